#!/usr/bin/env bash
# GPU check of the fused-dequantization GEMV kernels (evaluators/kernels), meant to run unattended
# on a GPU machine from a clean tree in under 6 minutes:
#   1. record the machine (nvidia-smi, compilers) into $OUT;
#   2. configure and build only the datatype library and the kernels (no gRPC, no GTest, no
#      LibTorch), and, in parallel and optionally, the LibTorch tinygemm peer;
#   3. kernel_check: every kernel against the CPU reference over the shape sweep (ragged n,
#      k a multiple of 128 but not of 1024, batch 1..8, split-K on and off);
#   4. tinygemm_bench (if it built), then kernel_bench over 4096^2, 11008x4096, 4096x11008,
#      8192^2, 28672x8192, 8192x28672 (N x K) at batch 1, 4, 8;
#   5. write SUMMARY.md, the Markdown table, raw JSON lines and every log into $OUT.
#
# Usage: bench/gpu-check.sh [--allow-no-gpu] [--skip-tinygemm] [--quick]
#   env: OUT (default ./out), BUILD_DIR (default ./build-gpu-check), JOBS (default nproc),
#        TORCH_DIR (default: the pip LibTorch under /opt/torch/.venv), CUDA_ARCH (default 90)
# Exit status: 0 all checks passed; 1 a kernel check or an output check failed; 2 no GPU (the
# host checks passed; 0 with --allow-no-gpu); 3 the build or a step failed to run.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
BUILD_DIR="${BUILD_DIR:-$PWD/build-gpu-check}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
CUDA_ARCH="${CUDA_ARCH:-90}"
TORCH_DIR="${TORCH_DIR:-/opt/torch/.venv/lib/python3.12/site-packages/torch/share/cmake/Torch}"
ALLOW_NO_GPU=0
SKIP_TINYGEMM=0
QUICK=0
for arg in "$@"; do
  case "$arg" in
    --allow-no-gpu) ALLOW_NO_GPU=1 ;;
    --skip-tinygemm) SKIP_TINYGEMM=1 ;;
    --quick) QUICK=1 ;;
    *) echo "usage: $0 [--allow-no-gpu] [--skip-tinygemm] [--quick]" >&2; exit 3 ;;
  esac
done

LOG="$OUT/gpu-check.log"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1
START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
step() { echo; echo "== [$(elapsed)s] $*"; }
SUMMARY="$OUT/SUMMARY.md"
declare -a STEPS=()
record() { STEPS+=("| $1 | $2 | $(elapsed)s |"); }

write_summary() {
  local verdict="$1"
  {
    echo "# GPU check of the GEMV kernels"
    echo
    echo "- verdict: **$verdict**"
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ), total $(elapsed)s"
    echo "- commit: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "- host: $(uname -n) ($(uname -sr))"
    if command -v nvidia-smi >/dev/null 2>&1; then
      echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total \
        --format=csv,noheader 2>/dev/null | head -1)"
    else
      echo "- GPU: nvidia-smi not found"
    fi
    echo
    echo "| step | result | at |"
    echo "|---|---|---|"
    printf '%s\n' "${STEPS[@]}"
    echo
    echo "Files: kernel_bench.md (table), kernel_bench.jsonl and tinygemm.jsonl (raw),"
    echo "kernel_check.log, nvidia-smi*.txt, configure/build logs, gpu-check.log (everything)."
    if [ -s "$OUT/kernel_bench.md" ]; then
      echo
      cat "$OUT/kernel_bench.md"
    fi
  } > "$SUMMARY"
  echo
  echo "== summary written to $SUMMARY"
}

finish() {  # finish VERDICT EXIT_CODE
  write_summary "$1"
  echo "gpu-check: $1 (exit $2, $(elapsed)s)"
  exit "$2"
}

step "machine"
{
  echo "root: $ROOT"
  echo "out: $OUT"
  uname -a
  (command -v nvcc >/dev/null && nvcc --version) || /usr/local/cuda/bin/nvcc --version ||
    echo "nvcc: not found"
  cmake --version | head -1
  "${CXX:-g++}" --version | head -1
} 2>&1 | tee "$OUT/toolchain.txt"
if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
  nvidia-smi -q > "$OUT/nvidia-smi-q.txt" 2>&1
  nvidia-smi --format=csv > "$OUT/nvidia-smi-gpus.csv" 2>&1 \
    --query-gpu=name,pci.bus_id,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit
  cat "$OUT/nvidia-smi.txt"
else
  echo "nvidia-smi: not found" | tee "$OUT/nvidia-smi.txt"
fi

# The tinygemm peer builds in the background while the kernels build.
TINYGEMM_BIN=""
TINYGEMM_PID=""
if [ "$SKIP_TINYGEMM" = 0 ] && [ -f "$TORCH_DIR/TorchConfig.cmake" ] &&
   nvidia-smi -L > /dev/null 2>&1; then
  step "tinygemm peer: building in the background against $TORCH_DIR"
  (
    timeout 300 cmake -S "$ROOT/evaluators/kernels/tinygemm" -B "$BUILD_DIR-tinygemm" \
      -DTorch_DIR="$TORCH_DIR" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 &&
    timeout 300 cmake --build "$BUILD_DIR-tinygemm" --target tinygemm_bench -j "$JOBS"
  ) > "$OUT/tinygemm-build.log" 2>&1 &
  TINYGEMM_PID=$!
else
  echo "tinygemm peer: skipped (--skip-tinygemm, no GPU listed by nvidia-smi, or no" \
    "$TORCH_DIR/TorchConfig.cmake)"
  record "tinygemm peer build" "skipped"
fi

step "configure (datatypes + kernels only)"
if ! timeout 180 cmake -S "$ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release \
    -DQLAB_WITH_GRPC=OFF -DQLAB_WITH_TORCH=OFF -DQLAB_BUILD_TESTS=OFF -DQLAB_BUILD_BENCH=OFF \
    "-DQLAB_EVALUATORS=datatypes;kernels" -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" \
    > "$OUT/configure.log" 2>&1; then
  tail -30 "$OUT/configure.log"
  record "configure" "FAILED (configure.log)"
  finish "configure failed" 3
fi
grep -E "qlab:|CUDA" "$OUT/configure.log" | head -20
record "configure" "ok"

step "build kernel_check kernel_bench (-j $JOBS)"
if ! timeout 300 cmake --build "$BUILD_DIR" --target kernel_check kernel_bench -j "$JOBS" \
    > "$OUT/build.log" 2>&1; then
  tail -40 "$OUT/build.log"
  record "build" "FAILED (build.log)"
  finish "build failed" 3
fi
grep -iE "warning|spill" "$OUT/build.log" | head -20
record "build" "ok"
BIN="$BUILD_DIR/evaluators/kernels"

step "kernel_check (CPU reference; host emulator, then every GPU case)"
CHECK_ARGS=()
[ "$QUICK" = 1 ] && CHECK_ARGS+=(--quick)
timeout 240 "$BIN/kernel_check" "${CHECK_ARGS[@]}" > "$OUT/kernel_check.log" 2>&1
CHECK_RC=$?
grep -E "^(FAIL|no GPU|CUDA|== |kernel_check:)" "$OUT/kernel_check.log" | head -60
case "$CHECK_RC" in
  0) record "kernel_check" "all passed ($(grep -c '^PASS' "$OUT/kernel_check.log") cases)" ;;
  2)
    record "kernel_check" "no GPU (host checks passed)"
    if [ -n "$TINYGEMM_PID" ]; then wait "$TINYGEMM_PID" 2>/dev/null; fi
    if [ "$ALLOW_NO_GPU" = 1 ]; then finish "no GPU (host checks passed)" 0; fi
    finish "no GPU (host checks passed)" 2
    ;;
  *) record "kernel_check" "FAILED (exit $CHECK_RC, see kernel_check.log)" ;;
esac

PEER_ARGS=()
if [ -n "$TINYGEMM_PID" ]; then
  step "tinygemm peer: waiting for its build"
  if wait "$TINYGEMM_PID" && [ -x "$BUILD_DIR-tinygemm/tinygemm_bench" ]; then
    TINYGEMM_BIN="$BUILD_DIR-tinygemm/tinygemm_bench"
    record "tinygemm peer build" "ok"
  else
    tail -20 "$OUT/tinygemm-build.log"
    record "tinygemm peer build" "failed (tinygemm-build.log); continuing without the peer"
  fi
fi
if [ -n "$TINYGEMM_BIN" ]; then
  step "tinygemm_bench (LibTorch _weight_int4pack_mm)"
  if timeout 150 "$TINYGEMM_BIN" --json "$OUT/tinygemm.jsonl" > "$OUT/tinygemm.log" 2>&1; then
    record "tinygemm_bench" "ok ($(grep -c median_us "$OUT/tinygemm.jsonl") runs)"
    PEER_ARGS=(--peer-json "$OUT/tinygemm.jsonl")
  else
    tail -20 "$OUT/tinygemm.log"
    record "tinygemm_bench" "failed (tinygemm.log)"
  fi
fi

step "kernel_bench sweep"
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv \
  > "$OUT/nvidia-smi-clocks-before.csv" 2>&1
timeout 240 "$BIN/kernel_bench" --json "$OUT/kernel_bench.jsonl" \
  --markdown "$OUT/kernel_bench.md" "${PEER_ARGS[@]}" > "$OUT/kernel_bench.log" 2>&1
BENCH_RC=$?
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv \
  > "$OUT/nvidia-smi-clocks-after.csv" 2>&1
[ -s "$OUT/kernel_bench.md" ] && cat "$OUT/kernel_bench.md"
case "$BENCH_RC" in
  0) record "kernel_bench" "ok" ;;
  1) record "kernel_bench" "OUTPUT CHECK FAILED (kernel_bench.md)" ;;
  *)
    tail -20 "$OUT/kernel_bench.log"
    record "kernel_bench" "failed (exit $BENCH_RC, kernel_bench.log)"
    ;;
esac

if [ "$CHECK_RC" != 0 ] || [ "$BENCH_RC" = 1 ]; then finish "CHECKS FAILED" 1; fi
if [ "$BENCH_RC" != 0 ]; then finish "benchmark did not complete" 3; fi
finish "all checks passed" 0
