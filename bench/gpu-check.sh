#!/usr/bin/env bash
# The GPU check, in one unattended call on the GPU machine, under a global deadline (default
# 8 minutes), whatever happens ending with SUMMARY.md and at most 8 files in $OUT:
#
#   1. preflight   nvidia-smi, nvcc, CMake, ninja, cuBLAS headers and libraries, the pip LibTorch,
#                  and the binaries carried from a Debian machine (gpu-carry/)
#   2. torch build in the background: the latency and accuracy evaluators' drivers against the
#                  CUDA LibTorch (-G Ninja, no gRPC)
#   3. kernel_check   every GEMV kernel against the CPU reference (quick sweep)
#   4. kernel_bench   6 LLM shapes x 4 kernels x batch 1/4/8 vs cuBLAS FP16 (and tinygemm)
#   5. latency        200 NB201 architectures on cuda:0, two passes interleaved (Spearman rho)
#   6. accuracy       models/kjv in 4 datatypes on cuda:0 next to the same jobs on the CPU
#   7. end to end     qlab-server + qlab-worker-lite + qlab (carried): experiments/kernel-bench.yaml
#                     through the coordinator, and cuda latency/accuracy jobs' states and reasons
#
# The GPU machine has nvcc, CMake, ninja, Python and a pip LibTorch with CUDA, but no gRPC and
# nothing installable. What the coordinator, worker and CLI need comes built from this
# repository on a Debian machine, stripped, with their shared libraries: `--dry-run` there
# prepares gpu-carry/ (an ignored folder: name it in the device tool's `carry`), checks that the
# working tree plus gpu-carry/ fit in 64 MiB, lists the files the run leaves and prints the plan
# with each step's time budget.
#
# Usage: bench/gpu-check.sh [--dry-run] [--allow-no-gpu] [--quick] [--rehearse]
#   --rehearse runs every step even without a GPU (each fails or skips as it would), to test
#   this script's own plumbing, deadline and output files on a machine without one.
#   env: OUT (default ./out), CARRY (default <repo>/gpu-carry), BUILD (default <repo>/build: the
#        Debian build whose binaries --dry-run carries), DEADLINE_S (default 480), JOBS,
#        TORCH_DIR (default: the pip LibTorch under /opt/torch/.venv), CUDA_ARCH (default 90)
# Exit status: 0 every step passed; 1 a check failed (kernel output, latency rho, perplexity);
# 2 no GPU (0 with --allow-no-gpu); 3 a step could not run; with --dry-run: 0 the plan fits,
# 1 it does not (size, files or time).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${OUT:-$PWD/out}"
CARRY="${CARRY:-$ROOT/gpu-carry}"
BUILD="${BUILD:-$ROOT/build}"
DEADLINE_S="${DEADLINE_S:-480}"
JOBS="${JOBS:-$(nproc 2>/dev/null || echo 4)}"
CUDA_ARCH="${CUDA_ARCH:-90}"
TORCH_DIR="${TORCH_DIR:-/opt/torch/.venv/lib/python3.12/site-packages/torch/share/cmake/Torch}"
CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
MAX_SEND_BYTES=$((64 * 1024 * 1024))
MAX_OUT_FILES=8
DRY_RUN=0 ALLOW_NO_GPU=0 QUICK=0 REHEARSE=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) DRY_RUN=1 ;;
    --allow-no-gpu) ALLOW_NO_GPU=1 ;;
    --quick) QUICK=1 ;;
    --rehearse) REHEARSE=1 ;;
    *) echo "usage: $0 [--dry-run] [--allow-no-gpu] [--quick] [--rehearse]" >&2; exit 3 ;;
  esac
done

# Steps and their budgets in seconds; the torch build runs beside steps 3-4. The sum of the
# serial budgets plus the margin must fit the deadline (checked by --dry-run).
STEP_NAMES=(preflight kernel_check kernel_bench torch_build_wait latency accuracy end_to_end package)
declare -A BUDGET=([preflight]=15 [kernel_check]=45 [kernel_bench]=100 [torch_build_wait]=40
                   [latency]=110 [accuracy]=70 [end_to_end]=70 [package]=10)
BACKGROUND_BUILD_BUDGET=190
MARGIN_S=20
# What the run leaves in $OUT; everything else goes into logs.tar.gz.
OUT_FILES=(SUMMARY.md kernel_bench.md kernel_bench.jsonl latency.json accuracy.md e2e-results.csv
           nvidia-smi.txt logs.tar.gz)

START=$(date +%s)
elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( DEADLINE_S - MARGIN_S - $(elapsed) )); }
# budget STEP: the step's own budget, cut to what is left before the deadline.
budget() { local b=${BUDGET[$1]} l; l=$(left); (( l < b )) && b=$l; (( b < 1 )) && b=1; echo "$b"; }

# ---- dry run: prepare what travels, check it, print the plan --------------------------------

# Shared libraries a carried binary needs that an Ubuntu 24.04 GPU machine may lack: everything
# ldd resolves outside the C/C++ runtime and the CUDA toolkit.
collect_libs_filter() {
  grep -vE '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*|libstdc\+\+|libgcc_s|libz)\.so' |
    grep -v "^$CUDA_HOME" | grep -vE '/libcuda\.so|^not$|^$'
}
collect_libs() { ldd "$@" 2>/dev/null | awk '/=> \//{print $3}' | sort -u | collect_libs_filter; }

dry_run() {
  local fail=0
  echo "== gpu-check --dry-run: preparing $CARRY from $BUILD"
  rm -rf "$CARRY"
  mkdir -p "$CARRY/bin" "$CARRY/lib" "$CARRY/deps/include" "$CARRY/deps/share/cmake"
  local b missing=()
  local -A SOURCES=([qlab-server]=server/qlab-server [qlab]=cli/qlab
                    [qlab-worker-lite]=worker/qlab-worker-lite
                    [kernel_check]=evaluators/kernels/kernel_check
                    [kernel_bench]=evaluators/kernels/kernel_bench)
  for b in "${!SOURCES[@]}"; do
    if [ -x "$BUILD/${SOURCES[$b]}" ]; then
      strip -o "$CARRY/bin/$b" "$BUILD/${SOURCES[$b]}" || cp "$BUILD/${SOURCES[$b]}" "$CARRY/bin/$b"
    else
      missing+=("$BUILD/${SOURCES[$b]}")
    fi
  done
  if ((${#missing[@]})); then
    echo "missing (run scripts/build): ${missing[*]}"
    fail=1
  fi
  local lib
  while read -r lib; do
    [ -n "$lib" ] && cp -L "$lib" "$CARRY/lib/$(basename "$lib")"
  done < <(collect_libs "$CARRY"/bin/*)
  # Header-only JSON for the LibTorch drivers built on the GPU machine.
  cp -r /usr/include/nlohmann "$CARRY/deps/include/" 2>/dev/null &&
    cp -r /usr/share/cmake/nlohmann_json "$CARRY/deps/share/cmake/" 2>/dev/null ||
    { echo "nlohmann-json3-dev is not installed"; fail=1; }
  strip --strip-unneeded "$CARRY"/lib/*.so* 2>/dev/null
  # The carried binaries need nothing beyond the carried libraries, the C/C++ runtime and the
  # CUDA toolkit, and they start.
  local unresolved
  unresolved=$(LD_LIBRARY_PATH="$CARRY/lib" ldd "$CARRY"/bin/* 2>/dev/null | awk '/=>/{print $3}' |
               grep -v "^$CARRY/lib/" | sort -u | collect_libs_filter)
  if [ -n "$unresolved" ]; then echo "carried binaries would still need: $unresolved"; fail=1; fi
  for b in qlab-server qlab qlab-worker-lite; do
    if [ -x "$CARRY/bin/$b" ] && ! LD_LIBRARY_PATH="$CARRY/lib" "$CARRY/bin/$b" --help >/dev/null 2>&1; then
      echo "carried $b does not start"
      fail=1
    fi
  done

  local tree_bytes carry_bytes total
  tree_bytes=$(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard |
               xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
  carry_bytes=$(du -sb "$CARRY" | cut -f1)
  total=$((tree_bytes + carry_bytes))
  echo
  echo "| what travels | MiB |"
  echo "|---|---:|"
  mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
  echo "| working tree (tracked and unignored files) | $(mib "$tree_bytes") |"
  echo "| gpu-carry/bin ($(ls "$CARRY/bin" | tr '\n' ' ' | sed 's/ $//')) | $(mib "$(du -sb "$CARRY/bin" | cut -f1)") |"
  echo "| gpu-carry/lib ($(ls "$CARRY/lib" | wc -l) shared libraries) | $(mib "$(du -sb "$CARRY/lib" | cut -f1)") |"
  echo "| gpu-carry/deps (nlohmann-json headers) | $(mib "$(du -sb "$CARRY/deps" | cut -f1)") |"
  echo "| **total** (limit 64) | **$(mib "$total")** |"
  if (( total > MAX_SEND_BYTES )); then echo "TOO LARGE: $total bytes > $MAX_SEND_BYTES"; fail=1; fi

  echo
  echo "files the run leaves in \$OUT (limit $MAX_OUT_FILES): ${OUT_FILES[*]}"
  if (( ${#OUT_FILES[@]} > MAX_OUT_FILES )); then echo "TOO MANY FILES"; fail=1; fi

  echo
  echo "| step | budget s |"
  echo "|---|---:|"
  local s serial=0
  for s in "${STEP_NAMES[@]}"; do
    echo "| $s | ${BUDGET[$s]} |"
    serial=$((serial + BUDGET[$s]))
  done
  echo "| (torch build, beside kernel_check and kernel_bench) | $BACKGROUND_BUILD_BUDGET |"
  echo "| margin before the deadline | $MARGIN_S |"
  echo "| **serial total** (deadline $DEADLINE_S) | **$((serial + MARGIN_S))** |"
  local before_wait=$((BUDGET[preflight] + BUDGET[kernel_check] + BUDGET[kernel_bench] + BUDGET[torch_build_wait]))
  if (( serial + MARGIN_S > DEADLINE_S )); then echo "PLAN TOO LONG"; fail=1; fi
  if (( BACKGROUND_BUILD_BUDGET > before_wait )); then echo "TORCH BUILD BUDGET OUTLASTS ITS WAIT"; fail=1; fi
  echo
  echo "device tool call: carry [\"gpu-carry\"], timeout_s $((DEADLINE_S + 60)), command:"
  echo "  OUT=\$OUT bench/gpu-check.sh"
  if (( fail )); then echo "gpu-check --dry-run: the plan does NOT fit"; return 1; fi
  echo "gpu-check --dry-run: the plan fits"
  return 0
}

if (( DRY_RUN )); then
  dry_run
  exit $?
fi

# ---- the run on the GPU machine -------------------------------------------------------------

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gpu-check-XXXXXX")"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
exec > >(tee -a "$LOGS/gpu-check.log") 2>&1
export LD_LIBRARY_PATH="$CARRY/lib:$CUDA_HOME/lib64:${LD_LIBRARY_PATH:-}"
BIN="$CARRY/bin"
declare -a ROWS=()
VERDICT="" EXIT_CODE=0
record() { ROWS+=("| $1 | $2 | $(elapsed)s |"); echo "== [$(elapsed)s] $1: $2"; }
fail_check() { EXIT_CODE=1; }
step() { echo; echo "== [$(elapsed)s] $1 (budget $(budget "$1")s)"; }

finish() {
  trap - EXIT
  [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null
  [ -n "${WORKER_PID:-}" ] && kill "$WORKER_PID" 2>/dev/null
  [ -n "${BUILD_PID:-}" ] && kill "$BUILD_PID" 2>/dev/null
  [ -z "$VERDICT" ] && VERDICT=$([ "$EXIT_CODE" = 0 ] && echo "all steps passed" || echo "CHECKS FAILED")
  {
    echo "# GPU check"
    echo
    echo "- verdict: **$VERDICT** (exit $EXIT_CODE), $(elapsed)s of a ${DEADLINE_S}s deadline"
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader 2>/dev/null | head -1)"
    echo "- host: $(uname -n), $(nproc) CPUs; nvcc $(nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9.]*\).*/\1/p'); LibTorch $(cat "$WORK/torch-version" 2>/dev/null || echo '?')"
    echo
    echo "| step | result | at |"
    echo "|---|---|---|"
    printf '%s\n' "${ROWS[@]}"
    for f in kernel_bench.md accuracy.md; do
      [ -s "$OUT/$f" ] && { echo; cat "$OUT/$f"; }
    done
    [ -s "$WORK/latency-table.md" ] && { echo; cat "$WORK/latency-table.md"; }
    [ -s "$WORK/e2e-table.md" ] && { echo; cat "$WORK/e2e-table.md"; }
  } > "$OUT/SUMMARY.md"
  cp "$OUT/SUMMARY.md" "$LOGS/"
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" logs 2>/dev/null
  # Only the planned files stay in $OUT.
  for f in "$OUT"/*; do
    case " ${OUT_FILES[*]} " in *" $(basename "$f") "*) ;; *) rm -rf "$f" ;; esac
  done
  echo
  head -c 11000 "$OUT/SUMMARY.md"
  exit "$EXIT_CODE"
}
trap 'VERDICT="stopped by a signal or an error"; EXIT_CODE=3; finish' EXIT
trap 'VERDICT="deadline reached"; EXIT_CODE=3; finish' ALRM
( sleep "$((DEADLINE_S - 5))"; kill -ALRM $$ 2>/dev/null ) &
WATCHDOG_PID=$!

# 1. preflight
step preflight
nvidia-smi > "$OUT/nvidia-smi.txt" 2>&1
HAVE_GPU=0
nvidia-smi -L > /dev/null 2>&1 && HAVE_GPU=1
nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$LOGS/clocks-before.csv" 2>&1
problems=()
command -v cmake > /dev/null || problems+=("cmake")
command -v ninja > /dev/null || problems+=("ninja")
[ -x "$CUDA_HOME/bin/nvcc" ] || problems+=("nvcc at $CUDA_HOME/bin")
[ -f "$CUDA_HOME/include/cublas_v2.h" ] || problems+=("cuBLAS header $CUDA_HOME/include/cublas_v2.h")
ls "$CUDA_HOME"/lib64/libcublas.so* > /dev/null 2>&1 || problems+=("cuBLAS library $CUDA_HOME/lib64/libcublas.so")
[ -f "$TORCH_DIR/TorchConfig.cmake" ] || problems+=("LibTorch at $TORCH_DIR")
for b in qlab-server qlab qlab-worker-lite kernel_check kernel_bench; do
  [ -x "$BIN/$b" ] || problems+=("carried $BIN/$b (run --dry-run on the Debian machine, carry gpu-carry)")
done
for b in qlab-server qlab qlab-worker-lite; do
  [ -x "$BIN/$b" ] && ! "$BIN/$b" --help > /dev/null 2>> "$LOGS/preflight.log" && problems+=("$b does not start (libraries?)")
done
if ((${#problems[@]})); then
  record preflight "missing: ${problems[*]}"
else
  record preflight "ok"
fi
if [ "$HAVE_GPU" = 0 ] && [ "$REHEARSE" = 0 ]; then
  record gpu "no GPU listed by nvidia-smi"
  VERDICT="no GPU"
  EXIT_CODE=$([ "$ALLOW_NO_GPU" = 1 ] && echo 0 || echo 2)
  finish
fi

# 2. torch build in the background (no gRPC: the evaluators and their drivers only)
BUILD_PID=""
if [ -f "$TORCH_DIR/TorchConfig.cmake" ]; then
  (
    timeout "$BACKGROUND_BUILD_BUDGET" cmake -G Ninja -S "$ROOT" -B "$WORK/build-torch" \
      -DCMAKE_BUILD_TYPE=Release -DQLAB_WITH_GRPC=OFF -DQLAB_BUILD_TESTS=OFF -DQLAB_BUILD_BENCH=ON \
      "-DQLAB_EVALUATORS=datatypes;latency;accuracy" -DTorch_DIR="$TORCH_DIR" \
      -DCMAKE_PREFIX_PATH="$CARRY/deps" -DCMAKE_CUDA_ARCHITECTURES="$CUDA_ARCH" &&
    timeout "$BACKGROUND_BUILD_BUDGET" cmake --build "$WORK/build-torch" -j "$JOBS" \
      --target qlab_latency_repro qlab-accuracy-sweep
  ) > "$LOGS/torch-build.log" 2>&1 &
  BUILD_PID=$!
fi

# 3. kernel_check
step kernel_check
CHECK_ARGS=(--quick)
[ "$QUICK" = 1 ] || CHECK_ARGS=()
timeout "$(budget kernel_check)" "$BIN/kernel_check" "${CHECK_ARGS[@]}" > "$LOGS/kernel_check.log" 2>&1
rc=$?
case "$rc" in
  0) record kernel_check "all passed ($(grep -c '^PASS' "$LOGS/kernel_check.log") cases)" ;;
  2) record kernel_check "no GPU (the host checks passed)"; fail_check ;;
  124) record kernel_check "timed out"; fail_check ;;
  *) record kernel_check "FAILED (exit $rc; $(grep -m1 '^FAIL' "$LOGS/kernel_check.log"))"; fail_check ;;
esac

# 4. kernel_bench
step kernel_bench
timeout "$(budget kernel_bench)" "$BIN/kernel_bench" --json "$OUT/kernel_bench.jsonl" \
  --markdown "$OUT/kernel_bench.md" > "$LOGS/kernel_bench.log" 2>&1
rc=$?
case "$rc" in
  0) record kernel_bench "ok ($(wc -l < "$OUT/kernel_bench.jsonl") rows)" ;;
  1) record kernel_bench "OUTPUT CHECK FAILED (kernel_bench.md)"; fail_check ;;
  124) record kernel_bench "timed out ($(wc -l < "$OUT/kernel_bench.jsonl" 2>/dev/null || echo 0) rows)"; fail_check ;;
  *) record kernel_bench "failed (exit $rc)"; fail_check ;;
esac

# 5-6 need the torch build.
step torch_build_wait
TORCH_OK=0
if [ -n "$BUILD_PID" ]; then
  waited=0
  while kill -0 "$BUILD_PID" 2>/dev/null && (( waited < $(budget torch_build_wait) )); do sleep 1; waited=$((waited + 1)); done
  if kill -0 "$BUILD_PID" 2>/dev/null; then
    kill "$BUILD_PID"; record torch_build "not done in time (torch-build.log)"
  elif wait "$BUILD_PID" && [ -x "$WORK/build-torch/bench/latency/qlab_latency_repro" ]; then
    TORCH_OK=1; record torch_build "ok"
  else
    record torch_build "FAILED ($(grep -m1 -iE 'error' "$LOGS/torch-build.log" | cut -c1-200))"
  fi
  BUILD_PID=""
  grep -m1 -oE 'LibTorch [0-9.]+[^ ]*' "$LOGS/torch-build.log" | cut -d' ' -f2 > "$WORK/torch-version"
else
  record torch_build "skipped (no LibTorch)"
fi
TB="$WORK/build-torch/bench"

# 5. CUDA latency: two interleaved passes over 200 NB201 architectures
step latency
if [ "$TORCH_OK" = 1 ]; then
  ARCHS=200
  [ "$QUICK" = 1 ] && ARCHS=40
  timeout "$(budget latency)" "$TB/latency/qlab_latency_repro" --device cuda:0 --archs "$ARCHS" \
    --block 10 --min-runs 20 --min-time-s 0.05 --warmup-runs 10 --warmup-min-s 0.05 \
    --json "$OUT/latency.json" > "$LOGS/latency.log" 2>&1
  rc=$?
  sed -n '/^| metric/,/^$/p' "$LOGS/latency.log" > "$WORK/latency-table.md"
  rho=$(grep -m1 -i 'spearman' "$LOGS/latency.log" | grep -oE '[0-9]+\.[0-9]+' | head -1)
  if [ "$rc" = 0 ] && [ -n "$rho" ]; then
    if awk "BEGIN {exit !($rho >= 0.99)}"; then record latency "rho $rho between passes (target >= 0.99)"
    else record latency "rho $rho < 0.99"; fail_check; fi
  else
    record latency "failed (exit $rc, latency.log)"; fail_check
  fi
else
  record latency "skipped (no torch build)"
fi

# 6. accuracy on cuda:0 next to the CPU
step accuracy
if [ "$TORCH_OK" = 1 ]; then
  for device in cuda:0 cpu; do
    cat > "$WORK/accuracy-$device.json" <<EOF
{"name": "gpu-check-accuracy", "kind": "accuracy",
 "params": {"model": "$ROOT/models/kjv/model.bin", "tokens": "$ROOT/models/kjv/heldout.tok",
            "group_size": 128, "device": "$device"},
 "axes": {"datatype": ["int4_asym", "nf4", "razer_fp4", "int3_asym"]}}
EOF
    timeout "$(( $(budget accuracy) / 2 ))" "$TB/accuracy/qlab-accuracy-sweep" "$WORK/accuracy-$device.json" \
      --json-out "$WORK/accuracy-$device.out.json" > "$LOGS/accuracy-$device.log" 2>&1 ||
      echo "accuracy on $device: exit $?" >> "$LOGS/accuracy-$device.log"
  done
  python3 - "$WORK/accuracy-cuda:0.out.json" "$WORK/accuracy-cpu.out.json" > "$OUT/accuracy.md" 2> "$LOGS/accuracy-compare.log" <<'PY'
import json, sys
def load(path):
    try:
        rows = json.load(open(path))
    except Exception:
        return {}
    rows = rows.get("rows", rows) if isinstance(rows, dict) else rows
    return {r["params"]["datatype"]: r["metrics"] for r in rows if "metrics" in r}
gpu, cpu = load(sys.argv[1]), load(sys.argv[2])
print("| datatype g128 | perplexity cuda:0 | perplexity cpu | relative difference |")
print("|---|---:|---:|---:|")
worst = None
for dt in sorted(set(gpu) | set(cpu)):
    g, c = gpu.get(dt, {}).get("perplexity"), cpu.get(dt, {}).get("perplexity")
    rel = abs(g - c) / c if g is not None and c else None
    if rel is not None:
        worst = rel if worst is None else max(worst, rel)
    fmt = lambda v, f: f.format(v) if v is not None else "-"
    print(f"| {dt} | {fmt(g, '{:.4f}')} | {fmt(c, '{:.4f}')} | {fmt(rel, '{:.2e}')} |")
print(f"\nworst relative difference: {worst if worst is not None else 'n/a'} (target <= 1e-3)")
sys.exit(0 if worst is not None and worst <= 1e-3 else 1)
PY
  if [ $? = 0 ]; then record accuracy "cuda:0 within 1e-3 of the CPU ($(tail -1 "$OUT/accuracy.md" | cut -d'(' -f1))"
  else record accuracy "differs or incomplete (accuracy.md)"; fail_check; fi
else
  record accuracy "skipped (no torch build)"
fi

# 7. end to end through the coordinator
step end_to_end
E2E="$WORK/e2e"
mkdir -p "$E2E"
"$BIN/qlab-server" --db "$E2E/qlab.db" --grpc-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 \
  --port-file "$E2E/ports.json" > "$LOGS/e2e-server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 100); do [ -s "$E2E/ports.json" ] && break; sleep 0.1; done
if [ -s "$E2E/ports.json" ]; then
  ADDR=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['grpc'])" "$E2E/ports.json")
  "$BIN/qlab-worker-lite" --coordinator "$ADDR" --data-root "$ROOT" > "$LOGS/e2e-worker.log" 2>&1 &
  WORKER_PID=$!
  Q() { "$BIN/qlab" --server "$ADDR" "$@"; }
  Q submit "$ROOT/experiments/kernel-bench.yaml" > "$LOGS/e2e-submit.log" 2>&1
  printf 'name: e2e-cuda-latency\nkind: latency\nparams: {space: nb201, arch_index: 1, device: cuda:0}\n' > "$E2E/l.yaml"
  Q submit "$E2E/l.yaml" >> "$LOGS/e2e-submit.log" 2>&1
  e2e_deadline=$(( $(elapsed) + $(budget end_to_end) - 5 ))
  while (( $(elapsed) < e2e_deadline )); do
    Q experiments > "$E2E/experiments.txt" 2>&1
    awk '$2 == "kernel-bench" && $4 == $5 + $6 {found = 1} END {exit !found}' "$E2E/experiments.txt" && break
    sleep 2
  done
  Q results --experiment kernel-bench --csv > "$OUT/e2e-results.csv" 2> "$LOGS/e2e-results.err"
  Q jobs --experiment e2e-cuda-latency > "$LOGS/e2e-latency-jobs.txt" 2>&1
  Q workers > "$LOGS/e2e-workers.txt" 2>&1
  done_jobs=$(grep -c ',SUCCEEDED,' "$OUT/e2e-results.csv" 2>/dev/null)
  total_jobs=$(($(wc -l < "$OUT/e2e-results.csv") - 1))
  {
    echo "| end to end (qlab-server, qlab-worker-lite, qlab on this machine) | |"
    echo "|---|---|"
    echo "| kernel-bench experiment | $done_jobs of $total_jobs jobs SUCCEEDED on $(grep -m1 -oE 'cuda:0 [^;]*' "$LOGS/e2e-workers.txt") |"
    echo "| a latency job for cuda:0 | $(sed -n 2p "$LOGS/e2e-latency-jobs.txt" | awk '{print $4}'): $(sed -n 2p "$LOGS/e2e-latency-jobs.txt" | cut -c60- | sed 's/ *$//') |"
  } > "$WORK/e2e-table.md"
  Q cancel --experiment kernel-bench > /dev/null 2>&1
  if [ "${done_jobs:-0}" -gt 0 ]; then record end_to_end "$done_jobs of $total_jobs kernel_bench jobs SUCCEEDED through the coordinator"
  else record end_to_end "no kernel_bench job succeeded (e2e-*.log)"; fail_check; fi
else
  record end_to_end "qlab-server did not start (e2e-server.log)"; fail_check
fi

nvidia-smi --query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv > "$LOGS/clocks-after.csv" 2>&1
kill "$WATCHDOG_PID" 2>/dev/null
finish
