#!/usr/bin/env bash
# The recipe of the language model qlab ships in models/kjv/ (see models/README.md): the King
# James Bible of Debian's bible-kjv-text package, a fixed chapter-interleaved held-out split,
# a 1,024-piece BPE tokenizer trained by SentencePiece's spm_train, and a 1.0M-parameter
# Llama-style model trained on the CPU by qlab-train-lm. Needs no download.
#
# usage: evaluators/accuracy/train_shipped_model.sh [BUILD_DIR] [OUT_DIR]
#   BUILD_DIR  a build tree with target qlab-train-lm built (default: build)
#   OUT_DIR    where the model, tokenizer, held-out data and logs go (default: models/kjv)
# Environment: THREADS (LibTorch threads, default 1), STEPS (default 700).
# Takes about 15-25 minutes on one shared CPU core. With THREADS=1 the trained weights are
# bit-for-bit repeatable on one machine; with more threads they may differ in the last bits.
set -euo pipefail

build_dir=${1:-build}
out_dir=${2:-models/kjv}
threads=${THREADS:-1}
steps=${STEPS:-700}
bin="$build_dir/evaluators/accuracy/qlab-train-lm"
[[ -x "$bin" ]] || { echo "build qlab-train-lm first: $bin is missing" >&2; exit 2; }
command -v spm_train >/dev/null || { echo "spm_train missing (apt-get install sentencepiece)" >&2; exit 2; }

mkdir -p "$out_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log="$out_dir/train.log"
: > "$log"
{
  echo "# qlab-train-lm recipe, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# cpu: $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores, threads $threads"
  echo "# git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >> "$log"

# 1. Corpus: every 25th chapter (canonical order) is held out.
"$bin" corpus --bible /usr/lib/bible.data --heldout-every 25 --out-dir "$work" | tee -a "$log"
cp "$work/heldout.txt" "$out_dir/heldout.txt"

# 2. Tokenizer: byte-pair encoding, 1,024 pieces, ids 0 unk, 1 bos, 2 eos (Llama's layout).
spm_train --input="$work/train.txt" --model_prefix="$out_dir/tokenizer" --vocab_size=1024 \
  --model_type=bpe --character_coverage=1.0 --num_threads=1 --unk_id=0 --bos_id=1 \
  --eos_id=2 --pad_id=-1 --minloglevel=1 >> "$log" 2>&1
# tokenizer.model also records the (temporary) input path; the pieces and scores are in .vocab.
echo "tokenizer: $(md5sum < "$out_dir/tokenizer.vocab" | cut -d' ' -f1) tokenizer.vocab" >> "$log"

# 3. Model: dim 128, 4 layers, 4 heads, SwiGLU 384, context 256, shared classifier.
#    Every projection's input width is a multiple of 128, so g128 groups tile every row.
"$bin" train --train-text "$work/train.txt" --tokenizer "$out_dir/tokenizer.model" \
  --out "$out_dir/model.bin" --dim 128 --layers 4 --heads 4 --kv-heads 4 --hidden 384 \
  --seq-len 256 --steps "$steps" --batch 8 --lr 2e-3 --min-lr 2e-4 --warmup 50 \
  --weight-decay 0.1 --seed 1 --threads "$threads" --log-every 25 --log "$log"

# 4. Held-out perplexity (non-overlapping 256-token windows) against a unigram baseline, and
#    the held-out token stream for accuracy jobs (`tokens: models/kjv/heldout.tok`).
"$bin" eval --model "$out_dir/model.bin" --tokenizer "$out_dir/tokenizer.model" \
  --text "$out_dir/heldout.txt" --train-text "$work/train.txt" --context 256 --stride 256 \
  --threads "$threads" --tokens-out "$out_dir/heldout.tok" \
  --json-out "$out_dir/heldout_eval.json" | tee -a "$log"
echo "done: $out_dir" | tee -a "$log"
