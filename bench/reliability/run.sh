#!/usr/bin/env bash
# Fault-and-load run of qlab on loopback: one coordinator on an SQLite file kept on a small tmpfs,
# 8 workers, JOBS jobs (noop, quantize, accuracy) submitted in parts while faults are injected:
# the coordinator SIGKILLed twice (restarted on the same file and port), two workers SIGKILLed
# (w2 restarted, w6 not), one worker SIGSTOPped past its lease TTL and SIGCONTed (during a 1 s
# SIGSTOP of the coordinator), the database full for 10 s, an online backup under load. Then
# every process is stopped, the backup restored and everything checked (rel.py check): the
# summary is printed and written to OUT/report.md; the exit status is 1 when a check failed.
# See bench/reliability/README.md.
#
#   bench/reliability/run.sh [--jobs N] [--out DIR] [--port P] [--lease-ttl-ms MS]
#                            [--accuracy-jobs N] [--tmpfs-mb MB] [--timeout S] [--record FILE]
#                            [--bin DIR]
# --bin: a folder with qlab-server, qlab-worker, qlab (and qlab-evaluate when the worker runs
# jobs in it) to use instead of build/ (env QLAB_BUILD, default build).
#
# Needs root (mount -t tmpfs). Uses 127.0.0.1 ports P..P+3 only. Every process it starts is
# stopped on exit, and the tmpfs unmounted.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
HERE=$ROOT/bench/reliability

JOBS=20000
OUT=/tmp/qlab-reliability
PORT=17570
TTL=10000
ACC=6
TMPFS_MB=64
TIMEOUT=1800
RECORD=""
BIN=""
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) JOBS=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --port) PORT=$2; shift 2 ;;
    --lease-ttl-ms) TTL=$2; shift 2 ;;
    --accuracy-jobs) ACC=$2; shift 2 ;;
    --tmpfs-mb) TMPFS_MB=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --record) RECORD=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$HERE/run.sh"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
for v in JOBS PORT TTL ACC TMPFS_MB TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || { echo "run.sh: --${v,,} must be a number" >&2; exit 2; }
done
(( JOBS >= 200 && JOBS <= 200000 && TIMEOUT <= 7200 )) || { echo "run.sh: 200 <= --jobs <= 200000, --timeout <= 7200" >&2; exit 2; }

# Where the binaries come from: --bin DIR (flat) or the build tree.
BUILD=${QLAB_BUILD:-build}
declare -A SRC=()
if [ -n "$BIN" ]; then
  BIN=$(cd "$BIN" && pwd) || exit 2
  for b in qlab-server qlab-worker qlab qlab-evaluate; do SRC[$b]=$BIN/$b; done
else
  SRC=([qlab-server]=$ROOT/$BUILD/server/qlab-server [qlab-worker]=$ROOT/$BUILD/worker/qlab-worker
       [qlab]=$ROOT/$BUILD/cli/qlab [qlab-evaluate]=$ROOT/$BUILD/worker/qlab-evaluate)
fi
for b in qlab-server qlab-worker qlab; do
  [ -x "${SRC[$b]}" ] || { echo "run.sh: ${SRC[$b]} is missing (build first)" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root for mount -t tmpfs" >&2; exit 2; }
GRPC=127.0.0.1:$PORT
HTTP=127.0.0.1:$((PORT + 1))
RESTORE_GRPC=127.0.0.1:$((PORT + 2))
RESTORE_HTTP=127.0.0.1:$((PORT + 3))
for p in $PORT $((PORT + 1)) $((PORT + 2)) $((PORT + 3)); do
  if ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then
    echo "run.sh: port $p is in use; choose another --port" >&2; exit 2
  fi
done

# OUT is ours only if new or made by an earlier run (its marker file).
if [ -e "$OUT" ] && [ ! -e "$OUT/.qlab-reliability" ]; then
  echo "run.sh: $OUT exists and was not made by this script; choose another --out" >&2; exit 2
fi
MNT=$OUT/mnt
if mountpoint -q "$MNT" 2>/dev/null; then umount "$MNT" || exit 1; fi
rm -rf "$OUT"
mkdir -p "$OUT"/{logs,metrics,final,mnt}
touch "$OUT/.qlab-reliability"
DB=$MNT/qlab.db
# A copy of the binaries: a rebuild of build/ during the run must not change what restarts.
mkdir -p "$OUT/bin"
for b in qlab-server qlab-worker qlab qlab-evaluate; do
  if [ -x "${SRC[$b]}" ]; then cp "${SRC[$b]}" "$OUT/bin/$b" || exit 2; fi
done
for b in qlab-server qlab-worker qlab; do
  "$OUT/bin/$b" --help > /dev/null 2>&1 || { echo "run.sh: $OUT/bin/$b --help fails (a half-written binary?)" >&2; exit 2; }
done
SERVER=$OUT/bin/qlab-server
WORKER=$OUT/bin/qlab-worker
QLAB=$OUT/bin/qlab
EVENTS=$OUT/events.tsv
: > "$EVENTS"

now_ms() { date +%s%3N; }
ev() { printf '%s\t%s\t%s\n' "$(now_ms)" "$1" "${2:-}" >> "$EVENTS"; }
say() { printf '[%s] %s\n' "$(date +%T)" "$*"; }

# ---- processes: every pid we start, for the EXIT trap --------------------------------------
declare -a PIDS=()
declare -A WPID=() WGEN=()
SPID=""
SGEN=-1
MOUNTED=0
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -CONT "$pid" 2>/dev/null
      kill -KILL "$pid" 2>/dev/null
    fi
  done
  wait 2>/dev/null
  rm -f "$MNT/filler"
  if (( MOUNTED )); then umount "$MNT" 2>/dev/null || umount -l "$MNT" 2>/dev/null; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mount -t tmpfs -o size=${TMPFS_MB}m qlab-reliability "$MNT" || { echo "run.sh: mount failed" >&2; exit 1; }
MOUNTED=1

start_server() {  # generation
  SGEN=$1
  rm -f "$OUT/port.$SGEN.json"
  "$SERVER" --db "$DB" --grpc-listen "$GRPC" --http-listen "$HTTP" --lease-ttl-ms "$TTL" \
    --port-file "$OUT/port.$SGEN.json" > "$OUT/logs/server.$SGEN.log" 2>&1 &
  SPID=$!
  PIDS+=("$SPID")
  ev coord_spawn "$SGEN pid=$SPID"
}

# Waits until the coordinator listens (port file) and answers an RPC; 60 s at most.
wait_serving() {
  local deadline=$(( $(now_ms) + 60000 )) listening=0
  while (( $(now_ms) < deadline )); do
    if ! kill -0 "$SPID" 2>/dev/null; then
      wait "$SPID"; ev exit "server.$SGEN rc=$? killed=0"; say "coordinator $SGEN died at start"; return 1
    fi
    if (( ! listening )) && [ -f "$OUT/port.$SGEN.json" ]; then ev coord_listening "$SGEN"; listening=1; fi
    if (( listening )) && "$QLAB" --server "$GRPC" workers > /dev/null 2>&1; then
      ev coord_serving "$SGEN"; return 0
    fi
    sleep 0.02
  done
  ev hung "coordinator $SGEN not serving after 60 s"; return 1
}

start_worker() {  # id
  local id=$1
  WGEN[$id]=$(( ${WGEN[$id]:--1} + 1 ))
  # Its own TMPDIR: what a killed worker leaves behind stays inside OUT, and is counted.
  mkdir -p "$OUT/wtmp/$id.${WGEN[$id]}"
  TMPDIR=$OUT/wtmp/$id.${WGEN[$id]} "$WORKER" --coordinator "$GRPC" --worker-id "$id" --devices cpu \
    --slots 1 --grace-ms 5000 > "$OUT/logs/$id.${WGEN[$id]}.log" 2>&1 &
  WPID[$id]=$!
  PIDS+=("${WPID[$id]}")
}

# SIGKILLs a worker; its job's evaluator child (if any) is watched: whether it outlives the daemon.
kill_worker() {  # id
  local id=$1 pid=${WPID[$1]} kids k
  kids=$(pgrep -P "$pid" 2>/dev/null | tr '\n' ' ')
  for k in $kids; do PIDS+=("$k"); done
  ev worker_kill "$id"
  stop_proc "$pid" "$id.${WGEN[$id]}" KILL 10
  for k in $kids; do
    ( t0=$(now_ms); cmd=$(tr '\0' ' ' < /proc/$k/cmdline 2>/dev/null | cut -c1-120)
      while kill -0 "$k" 2>/dev/null && (( $(now_ms) - t0 < 120000 )); do sleep 0.1; done
      if kill -0 "$k" 2>/dev/null; then ev orphan "$id child pid=$k still running 120 s after the worker's SIGKILL: $cmd"
      else ev orphan "$id child pid=$k exited $(( $(now_ms) - t0 )) ms after the worker's SIGKILL: $cmd"; fi ) &
    PIDS+=("$!")
  done
}

# SIGTERM (or SIGKILL) one process and record how it ended.
stop_proc() {  # pid label signal timeout_s
  local pid=$1 label=$2 sig=$3 limit=$4 t=0 rc
  kill -"$sig" "$pid" 2>/dev/null
  while kill -0 "$pid" 2>/dev/null && (( t < limit * 10 )); do sleep 0.1; t=$((t + 1)); done
  if kill -0 "$pid" 2>/dev/null; then
    ev hung "$label did not exit ${limit} s after SIG$sig"; say "$label hung after SIG$sig"
    kill -KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null; rc=$?
  ev exit "$label rc=$rc killed=$([ "$sig" = KILL ] && echo 1 || echo 0)"
}

scrape() { curl -s --max-time 5 "http://$HTTP/metrics" > "$OUT/metrics/$1.txt" || true; }

progress() { python3 "$HERE/rel.py" summary "$HTTP" 2>/dev/null; }

# Submits a sweep file, retrying while the coordinator is away or refuses (database full); 180 s
# at most. A retry that finds the experiment already stored (its first reply was lost) counts it.
submit() {  # name
  local name=$1 file="$OUT/sweeps/$1.json" tries=0 out rc start
  start=$(now_ms)
  while :; do
    tries=$((tries + 1))
    out=$("$QLAB" --server "$GRPC" submit "$file" 2>&1); rc=$?
    echo "$(date +%T.%3N) $name try $tries rc=$rc: $out" >> "$OUT/logs/submit.log"
    if (( rc == 0 )); then
      ev submit_ok "$name tries=$tries"
      SUBMIT_OUT=$out
      return 0
    fi
    if (( tries > 1 )) && grep -q "already exists" <<< "$out"; then
      ev submit_ok "$name tries=$tries (stored by an earlier try: $(python3 "$HERE/rel.py" exp-total "$HTTP" "$name") jobs)"
      SUBMIT_OUT=$out
      return 0
    fi
    ev submit_retry "$name rc=$rc $(head -c 300 <<< "$out" | tr '\n\t' '  ')"
    if (( $(now_ms) - start > 180000 )); then ev submit_gave_up "$name"; return 1; fi
    sleep 0.3
  done
}

submit_chunk() {  # chunk number
  local name
  for name in $(awk -v c="$1" '$1 == c { $1 = ""; print }' "$OUT/plan.txt"); do
    submit "$name" || return 1
  done
}

kill_coordinator() {
  local old=$SGEN
  say "fault: SIGKILL coordinator (generation $old)"
  ev coord_kill "$((old + 1)) pid=$SPID"
  stop_proc "$SPID" "server.$old" KILL 10
  start_server $((old + 1))
  wait_serving || return 1
  say "  coordinator $SGEN serving again"
  # Until every worker process we run has talked to the new coordinator (it counts as live).
  local want=${#WPID[@]} ids id deadline=$(( $(now_ms) + 30000 ))
  local -A seen=()
  while (( $(now_ms) < deadline )); do
    ids=$(python3 "$HERE/rel.py" live "$HTTP" 2>/dev/null)
    for id in $ids; do
      if [ -z "${seen[$id]:-}" ]; then seen[$id]=1; ev coord_worker_back "$SGEN $id"; fi
    done
    if (( ${#seen[@]} >= want )); then ev coord_workers_back "$SGEN n=${#seen[@]}"; return 0; fi
    sleep 0.05
  done
  ev coord_workers_partial "$SGEN ${#seen[@]} of $want after 30 s"
}

# ---- plan ------------------------------------------------------------------------------------
python3 "$HERE/rel.py" plan "$OUT" "$JOBS" "$ACC" "$ROOT/models/kjv" > "$OUT/plan.txt" || exit 2
QLAB_REL_BINARIES="$(for b in qlab-server qlab-worker qlab-evaluate qlab; do
    [ -f "$OUT/bin/$b" ] && printf '%s built %s sha256 %.12s; ' "$b" "$(date -r "${SRC[$b]}" '+%F %T')" "$(sha256sum < "$OUT/bin/$b")"; done
  cd "$ROOT" && printf 'work tree at %s%s' "$(git rev-parse --short HEAD 2>/dev/null)" \
    "$(git diff --quiet HEAD 2>/dev/null || echo ' with uncommitted changes')")" \
python3 - "$OUT/params.json" "$JOBS" "$TTL" "$TMPFS_MB" <<'EOF'
import json, os, sys, time
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
mem = next((l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal")), "0")
json.dump({"jobs": int(sys.argv[2]), "ttl_ms": int(sys.argv[3]), "tmpfs_mb": int(sys.argv[4]),
           "cpu": cpu, "nproc": os.cpu_count(), "mem": f"{int(mem) / 2**20:.0f} GiB RAM",
           "load": "load average before the run " + open("/proc/loadavg").read().split()[0],
           "date": time.strftime("%Y-%m-%d %H:%M"),
           "binaries": os.environ.get("QLAB_REL_BINARIES", "")}, open(sys.argv[1], "w"))
EOF
say "plan: $JOBS jobs, lease TTL $TTL ms, database on a ${TMPFS_MB} MiB tmpfs at $MNT; output in $OUT"

# ---- start -----------------------------------------------------------------------------------
start_server 0
wait_serving || exit 1
for i in 1 2 3 4 5 6 7 8; do start_worker w$i; done
deadline=$(( $(now_ms) + 120000 ))
until [ "$(curl -s --max-time 2 "http://$HTTP/api/v1/summary" | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers_live"])' 2>/dev/null)" = 8 ]; do
  (( $(now_ms) < deadline )) || { ev hung "8 workers not live after 120 s"; say "workers did not come up"; exit 1; }
  sleep 0.2
done
say "8 workers live"

# ---- load + faults ---------------------------------------------------------------------------
ev first_submit
submit_chunk 0 || exit 1
say "submitted part 0; $(progress)"
sleep 2

# 1. worker SIGKILL, restarted with the same id
submit_chunk 1 || exit 1
sleep 0.3
say "fault: SIGKILL worker w2 (restarted)"
kill_worker w2
sleep 1
start_worker w2
ev worker_restart "w2"

# 2. SIGSTOP the worker running the fence job past the lease TTL, then SIGCONT it. It is resumed
# while the coordinator is frozen for 1 s (SIGSTOP): its finished job's Complete is then sent
# before a heartbeat reply can tell it that the lease is gone. Resumed while the coordinator
# answers, the worker often learns that from its heartbeat first and drops the result itself
# (also correct), which would leave the coordinator's fencing of a late Complete to chance.
submit_chunk 2 || exit 1
submit fence || exit 1
FENCE_ID=$(sed -n 's/.*ids \([0-9]*\)\.\..*/\1/p' <<< "$SUBMIT_OUT")
deadline=$(( $(now_ms) + 60000 ))
STOPPED=""
while (( $(now_ms) < deadline )); do
  read -r st wk < <(python3 "$HERE/rel.py" job "$HTTP" "$FENCE_ID" 2>/dev/null)
  if [ "${st:-}" = RUNNING ] && [ -n "${WPID[${wk:-none}]:-}" ]; then STOPPED=$wk; break; fi
  sleep 0.05
done
[ -n "$STOPPED" ] || { ev hung "fence job $FENCE_ID not running after 60 s"; exit 1; }
sleep 0.5
say "fault: SIGSTOP worker $STOPPED (running fence job $FENCE_ID) for $((TTL + 5000)) ms"
kill -STOP "${WPID[$STOPPED]}"
ev sigstop "$STOPPED job=$FENCE_ID"
STOP_T=$(now_ms)
while (( $(now_ms) < STOP_T + TTL + 4000 )); do sleep 0.05; done
submit_chunk 3 || exit 1
while (( $(now_ms) < STOP_T + TTL + 5000 )); do sleep 0.05; done
kill -STOP "$SPID"
ev coord_freeze "$SGEN"
kill -CONT "${WPID[$STOPPED]}"
ev sigcont "$STOPPED"
sleep 1
kill -CONT "$SPID"
ev coord_thaw "$SGEN"
sleep 1
scrape after-sigstop

# 3. coordinator SIGKILL under load
sleep 1
scrape before-kill-1
kill_coordinator || exit 1
sleep 1

# 4. database full for 10 s; a submission lands in the window and is retried
submit_chunk 4 || exit 1
sleep 0.3
scrape before-dbfull
say "fault: database full for 10 s"
ev dbfull_server_gen "$SGEN"
dd if=/dev/zero of="$MNT/filler" bs=1M status=none 2> /dev/null
FILL_T=$(now_ms)
ev dbfull_filled "tmpfs $(df -B1 --output=avail "$MNT" | tail -1 | tr -d ' ') bytes free, filler $(stat -c %s "$MNT/filler") bytes"
sleep 0.5
scrape during-dbfull
# Two seconds in, when the WAL's free room is likely used up, submit the next part.
while (( $(now_ms) < FILL_T + 2000 )); do sleep 0.05; done
( submit_chunk 5 && ev dbfull_submit_done "part 5 stored $(( $(now_ms) - FILL_T )) ms after the fill" ) &
SUBMITTER=$!
PIDS+=("$SUBMITTER")
while (( $(now_ms) < FILL_T + 10000 )); do sleep 0.05; done
rm -f "$MNT/filler"
ev dbfull_freed
say "  filler removed"
wait "$SUBMITTER" || say "  the submission of part 5 failed"
sleep 2
scrape after-dbfull

# 5. online backup under load
submit_chunk 6 || exit 1
say "fault: backup under load"
BK_T=$(now_ms)
if timeout 300 "$SERVER" --db "$DB" backup --to "$OUT/backup.db" > "$OUT/logs/backup.log" 2>&1; then
  ev backup_ok "$(( $(now_ms) - BK_T )) ms, $(stat -c %s "$OUT/backup.db") bytes, at $(progress | awk '{print $1 "/" $2}') jobs finished"
else
  ev backup_failed "rc=$? after $(( $(now_ms) - BK_T )) ms: $(tail -1 "$OUT/logs/backup.log")"
fi

# 6. second coordinator SIGKILL
submit_chunk 7 || exit 1
sleep 0.3
scrape before-kill-2
kill_coordinator || exit 1

# 7. worker SIGKILL, not restarted
submit_chunk 8 || exit 1
sleep 0.3
say "fault: SIGKILL worker w6 (not restarted)"
kill_worker w6
unset 'WPID[w6]'

# ---- wait for every job ----------------------------------------------------------------------
deadline=$(( $(now_ms) + TIMEOUT * 1000 ))
last=""
moved=$(now_ms)
last_terminal=-1
while :; do
  p=$(progress)
  read -r terminal total _ <<< "${p:-0 -1}"
  if [ "${terminal:-0}" = "${total:-}" ] && [ "$total" = "$JOBS" ]; then ev all_done; break; fi
  if (( $(now_ms) > deadline )); then ev hung "jobs not finished after --timeout $TIMEOUT s: $p"; break; fi
  if [ "${terminal:-0}" != "$last_terminal" ]; then last_terminal=${terminal:-0}; moved=$(now_ms); fi
  if (( $(now_ms) - moved > 120000 )); then
    ev hung "no job finished for 120 s: $p (terminal total pending leased running succeeded failed cancelled)"
    curl -s --max-time 5 "http://$HTTP/api/v1/jobs?state=PENDING&limit=5" > "$OUT/stalled-pending.json"
    say "stalled: $p"; break
  fi
  if [ "$p" != "$last" ] && (( $(now_ms) / 1000 % 10 == 0 )); then say "progress (terminal total pending leased running succeeded failed cancelled): $p"; last=$p; fi
  sleep 0.2
done
say "done waiting: $(progress)"
scrape end

# ---- stop, restore, check --------------------------------------------------------------------
for id in "${!WPID[@]}"; do stop_proc "${WPID[$id]}" "$id.${WGEN[$id]}" TERM 40; done
stop_proc "$SPID" "server.$SGEN" TERM 30
ls -l "$MNT" > "$OUT/final/ls.txt"
python3 - "$OUT/params.json" "$MNT" <<'EOF'
import json, os, sys
p = json.load(open(sys.argv[1]))
p["db_bytes_final"] = sum(os.path.getsize(os.path.join(sys.argv[2], f)) for f in os.listdir(sys.argv[2]))
json.dump(p, open(sys.argv[1], "w"))
EOF
cp "$MNT"/qlab.db* "$OUT/final/"

if [ -f "$OUT/backup.db" ]; then
  cp "$OUT/backup.db" "$OUT/restore.db"
  "$SERVER" --db "$OUT/restore.db" --grpc-listen "$RESTORE_GRPC" --http-listen "$RESTORE_HTTP" \
    --lease-ttl-ms "$TTL" > "$OUT/logs/restore-server.log" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  deadline=$(( $(now_ms) + 60000 ))
  until "$QLAB" --server "$RESTORE_GRPC" experiments > "$OUT/restore-experiments.txt" 2>&1; do
    (( $(now_ms) < deadline )) && kill -0 "$RPID" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "^ *1 " "$OUT/restore-experiments.txt"; then
    ev restore_served "$(python3 "$HERE/rel.py" summary "$RESTORE_HTTP" | awk '{print $2 " jobs, " $1 " finished"}')"
  fi
  stop_proc "$RPID" "restore-server" TERM 30
fi

python3 "$HERE/rel.py" check "$OUT"
rc=$?
if [ -n "$RECORD" ]; then cp "$OUT/report.md" "$RECORD"; fi
exit $rc
