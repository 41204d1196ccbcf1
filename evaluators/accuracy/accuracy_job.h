// The `accuracy` job (DESIGN.md sections 6 and 10): perplexity of a Llama-family language model
// on held-out text with the linear layers of its transformer blocks fake-quantized in a registry
// datatype, next to the unquantized reference measured in the same job.
//
// Params (the sweep's `params` merged with one point of its axes; unknown keys are rejected):
//   model          string, required: a llama2.c checkpoint file (run.c format) or a Hugging Face
//                  folder (config.json + *.safetensors, sharded or not; F32/F16/BF16).
//   text, tokenizer  evaluation text file and its SentencePiece .model; or
//   tokens         raw little-endian int32 token ids (exactly one of the two sources).
//                  Text is tokenized line by line after a BOS token (Tokenizer::EncodeDocument).
//   context        window length in tokens, in [2, max_seq_len]. Default: the model's
//                  max_seq_len (config.json max_position_embeddings / llama2.c seq_len).
//   stride         in [1, context]. Default: context (non-overlapping windows). See
//                  perplexity.h for exactly which positions count.
//   datatype       required: a registry name (e.g. int4_asym, nf4, razer_fp4, fp16), or fp32 /
//                  keep (nothing quantized: a baseline), or a map {tensor-name glob: one of
//                  those} giving each block linear its own format (mixed precision). Tensor
//                  names are Hugging Face's ("model.layers.0.mlp.down_proj.weight"); the most
//                  specific matching pattern wins (accuracy_params.h: ResolveTensorFormat); a
//                  block linear no pattern matches fails the job, naming it.
//   group_size     integer >= 0, elements per group along each row (input features); 0 = one
//                  group per row. Default: the datatype's default. Must divide the input width
//                  of every quantized layer (checked against the model when the job runs). May
//                  be a map {glob: integer} as datatype; unmatched tensors take the default.
//   scale_search   "none" (absmax) | "mse" (clip-ratio search per group). Default: "none".
//   sf4_nu         Student-t nu of the sf4 codebook. Default: 5.
//   quantize_head  bool: also quantize the output head (with a shared classifier: the
//                  embedding, which is the head). Embeddings and norms stay full precision
//                  otherwise. Default: false.
//   device         "cpu" | "cuda" | "cuda:N" (needs a LibTorch build with CUDA). Default: "cpu".
//   dtype          "float32" | "float16" | "bfloat16": weights and matmuls of both passes; norms
//                  and softmax stay float32. Default: "float32".
//   threads        integer in [0, 1024]: LibTorch and quantizer threads; 0 = every core.
//                  LibTorch's thread count is process-wide. Default: 0.
//   max_tokens     integer >= 0: evaluate only the first N tokens of the stream; 0 = all.
//   batch          integer in [0, 4096]: windows per forward pass; 0 = automatic (logits of a
//                  batch stay under 2^23 floats).
// Metrics: perplexity (quantized), perplexity_ref (same job, unquantized, in `dtype`),
// nll_increase (log(perplexity / perplexity_ref) in nats per token, with the standard error of
// the window-by-window paired difference in Metric::stderr_value: datatypes whose increases
// differ by less than ~2 standard errors are not told apart by this text), tokens_per_s (window
// tokens per second of the quantized pass), bits_per_weight (storage bits, scales and metadata
// included, averaged over every quantizable weight, a kept one at its dtype's width),
// weight_bytes (those bits / 8), hw_cost (datatypes/hw_cost.h, averaged over the tensors
// weighted by their multiply-accumulates; a kept tensor at fp16's cost), weight_sqnr_db (over
// all quantized weights; left out,
// with zero_weight_error 1, when the quantized weights equal the originals),
// num_quantized_weights, scored_tokens, context.
#pragma once

#include <nlohmann/json.hpp>

#include "common/job_output.h"
#include "common/status.h"

namespace qlab {

// Checks an accuracy job's params without running it and without opening files: OK, or
// INVALID_ARGUMENT naming the field. Thread-safe. In target qlab_accuracy_params (no LibTorch).
Status ValidateAccuracyParams(const nlohmann::json& params);

// Runs the job. Errors: INVALID_ARGUMENT (params; group size vs layer widths; token ids outside
// the vocabulary; tokenizer larger than the model's vocabulary; text shorter than one window;
// tensor shape/dtype mismatch; unknown architecture), NOT_FOUND (model, tokenizer, text or
// token file, or a tensor, missing), DATA_LOSS (corrupt or truncated checkpoint),
// FAILED_PRECONDITION (CUDA requested but unavailable), RESOURCE_EXHAUSTED (out of memory),
// CANCELLED (context.cancelled()), UNIMPLEMENTED (versioned llama2.c exports). Reports progress
// through `context`. In target qlab_accuracy (links LibTorch); one job at a time per process
// is the intended use (LibTorch's thread count is global).
StatusOr<JobOutput> RunAccuracyJob(const nlohmann::json& params, JobContext& context);

}  // namespace qlab
