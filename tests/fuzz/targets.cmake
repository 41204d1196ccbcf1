# The libFuzzer targets of tests/fuzz: each NAME is built from NAME_fuzz.cc into NAME_fuzz, has
# its seed corpus in corpus/NAME/ and runs as the ctest test fuzz_NAME (register_tests.cmake).
set(QLAB_FUZZ_TARGETS
  sweep_text     # cli/sweep_file.h: SweepTextToJson (YAML and JSON sweep files)
  sweep_expand   # server/sweep.h: ExpandSweep, MakeJobSpec (params validation of every kind)
  filter         # storage/filter_expression.h: CompileFilter, run on the real schema
  safetensors    # evaluators/datatypes/safetensors.h: SafetensorsFile (header and tensors)
  llama2c        # evaluators/accuracy/checkpoint.h: llama2.c checkpoint files
  hf_config      # evaluators/accuracy/checkpoint.h: Hugging Face config.json
  dataset        # evaluators/predictor/dataset.h: ParseDatasetExport (CSV, JSON), encodings
  nb201          # evaluators/latency/nb201.h, fbnet.h: architecture strings
)
