"""The checks of bench/reliability/run.sh after a run (`rel.py check OUT`): reads the database,
the backup and its restored copy (read-only, after the servers stopped), the logs, the events
file and the coordinator's /metrics snapshots in OUT, prints the report and returns 1 when any
check fails."""
import json
import math
import os
import re
import sqlite3
from collections import Counter, defaultdict

from rel import (ACC_OPTIONAL, ACC_REQUIRED, CHUNKS, FAIL_JOBS, FENCE_MS, QUANT_REQUIRED,
                 QUANT_SHAPE, STATE)

def read_events(out):
    events = []
    with open(os.path.join(out, "events.tsv")) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                events.append((int(parts[0]), parts[1], parts[2] if len(parts) > 2 else ""))
    return events


def first(events, name):
    for t, n, d in events:
        if n == name:
            return t, d
    return None, None


def all_of(events, name):
    return [(t, d) for t, n, d in events if n == name]


def parse_metrics(path):
    """Prometheus text -> {(name, frozenset(labels)): value}."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)', line)
        if not m:
            continue
        labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def metric_sum(metrics, name, **want):
    s = 0.0
    for (n, labels), v in metrics.items():
        if n == name and all((k, val) in labels for k, val in want.items()):
            s += v
    return s


def by_label(metrics, name, label, **want):
    out = Counter()
    for (n, labels), v in metrics.items():
        if n == name and all((k, val) in labels for k, val in want.items()):
            d = dict(labels)
            out[d.get(label, "")] += v
    return out


def integrity(path):
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        rows = [r[0] for r in con.execute("PRAGMA integrity_check")]
        con.close()
        return "; ".join(rows)
    except sqlite3.Error as e:
        return f"error: {e}"


class Db:
    """The tables of one database file, loaded once."""

    def __init__(self, path):
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        self.experiments = {r[0]: r[1] for r in con.execute("SELECT id, name FROM experiment")}
        self.jobs = {}
        for r in con.execute("SELECT id, experiment_id, kind, params_json, state, attempts, "
                             "max_attempts, live_token, worker_id, last_error, finished_unix_ms "
                             "FROM job"):
            self.jobs[r[0]] = {"id": r[0], "experiment": self.experiments.get(r[1], "?"),
                               "kind": r[2], "params": json.loads(r[3]), "state": STATE.get(r[4], r[4]),
                               "attempts": r[5], "max_attempts": r[6], "live_token": r[7],
                               "worker": r[8], "error": r[9], "finished": r[10]}
        self.attempts = defaultdict(list)
        self.attempt_rows = []
        for r in con.execute("SELECT token, job_id, worker_id, leased_unix_ms, started_unix_ms, "
                             "finished_unix_ms, outcome, error FROM attempt"):
            a = {"token": r[0], "job": r[1], "worker": r[2], "leased": r[3], "started": r[4],
                 "finished": r[5], "outcome": r[6], "error": r[7]}
            self.attempts[r[1]].append(a)
            self.attempt_rows.append(a)
        self.results = defaultdict(dict)
        self.result_rows = 0
        self.orphan_results = 0
        for job_id, name, value in con.execute("SELECT job_id, name, value FROM result"):
            self.result_rows += 1
            if job_id not in self.jobs:
                self.orphan_results += 1
            self.results[job_id][name] = value
        self.dup_results = con.execute(
            "SELECT COUNT(*) FROM (SELECT job_id, name FROM result GROUP BY job_id, name "
            "HAVING COUNT(*) > 1)").fetchone()[0]
        con.close()


def check_job_results(db, j, quant_names):
    """Problems with one SUCCEEDED job's metric rows (empty list: exact)."""
    res = db.results.get(j["id"], {})
    names = set(res)
    p = j["params"]
    if j["kind"] == "noop":
        if names != {"duration_ms"}:
            return [f"noop metrics {sorted(names)} != ['duration_ms']"]
        if res["duration_ms"] != p.get("duration_ms", 0):
            return [f"duration_ms {res['duration_ms']} != params {p.get('duration_ms', 0)}"]
        return []
    if j["kind"] == "quantize":
        extra = names - QUANT_REQUIRED
        probs = []
        if not QUANT_REQUIRED <= names:
            probs.append(f"missing {sorted(QUANT_REQUIRED - names)}")
        if any(not re.fullmatch(r"bit_sparsity_p\d+", n) for n in extra):
            probs.append(f"unexpected {sorted(extra)}")
        k = len(extra)
        if sorted(extra) != [f"bit_sparsity_p{i}" for i in range(k)]:
            probs.append(f"bit_sparsity_p* not 0..{k - 1}: {sorted(extra)}")
        quant_names[p["datatype"]].add(frozenset(names))
        if res.get("num_weights") != QUANT_SHAPE[0] * QUANT_SHAPE[1]:
            probs.append(f"num_weights {res.get('num_weights')}")
        return probs
    if j["kind"] == "accuracy":
        probs = []
        if not ACC_REQUIRED <= names:
            probs.append(f"missing {sorted(ACC_REQUIRED - names)}")
        if names - ACC_REQUIRED - ACC_OPTIONAL:
            probs.append(f"unexpected {sorted(names - ACC_REQUIRED - ACC_OPTIONAL)}")
        ref = res.get("perplexity_ref", 0)
        if not (26.8 < ref < 26.9):
            probs.append(f"perplexity_ref {ref} (expected ~26.85)")
        ppl = res.get("perplexity", float("nan"))
        if not (math.isfinite(ppl) and ppl >= ref * 0.999):
            probs.append(f"perplexity {ppl}")
        return probs
    return [f"unknown kind {j['kind']}"]


def invariants(db, expected_fail_experiments, final):
    """Per-job checks of one database (final: every job must be terminal). Returns the problems
    of the job/attempt lifecycle, those of the result rows, and result rows / jobs per kind."""
    life, res_probs = [], []
    quant_names = defaultdict(set)
    per_kind_rows = Counter()
    per_kind_jobs = Counter()
    for j in db.jobs.values():
        atts = db.attempts.get(j["id"], [])
        outcomes = Counter(a["outcome"] for a in atts)
        res = db.results.get(j["id"], {})
        st = j["state"]
        where = f"job {j['id']} ({j['experiment']}, {j['kind']}, {st})"
        if st == "SUCCEEDED":
            if outcomes["succeeded"] != 1:
                life.append(f"{where}: {outcomes['succeeded']} succeeded attempts")
            for p in check_job_results(db, j, quant_names):
                res_probs.append(f"{where}: {p}")
            per_kind_rows[j["kind"]] += len(res)
            per_kind_jobs[j["kind"]] += 1
        else:
            if outcomes["succeeded"]:
                life.append(f"{where}: has a succeeded attempt but is {st}")
            if res:
                res_probs.append(f"{where}: {len(res)} result rows but not SUCCEEDED")
        if st == "FAILED":
            if j["experiment"] not in expected_fail_experiments:
                life.append(f"{where}: unexpectedly FAILED: {j['error']}")
            elif outcomes["failed"] != 1 or "asked to fail" not in j["error"]:
                life.append(f"{where}: expected one 'failed' attempt with the job's error, "
                            f"got {dict(outcomes)} / {j['error']!r}")
        elif j["experiment"] in expected_fail_experiments and st in ("SUCCEEDED", "CANCELLED"):
            life.append(f"{where}: expected FAILED")
        if st in ("SUCCEEDED", "FAILED", "CANCELLED"):
            if j["live_token"] is not None:
                life.append(f"{where}: terminal with live_token {j['live_token']}")
            if outcomes[""]:
                life.append(f"{where}: terminal with {outcomes['']} live attempt(s)")
            if not j["finished"]:
                life.append(f"{where}: terminal without finished time")
        elif final:
            life.append(f"{where}: not finished")
        elif outcomes[""] > 1:
            life.append(f"{where}: {outcomes['']} live attempts")
        # job.attempts is the attempt budget spent; whether an expired lease spends it has
        # changed between versions, so either count is accepted.
        spent_all = sum(v for k, v in outcomes.items() if k != "released")
        spent_no_infra = spent_all - outcomes["expired"]
        if j["attempts"] not in (spent_all, spent_no_infra):
            life.append(f"{where}: job.attempts {j['attempts']} matches no count of its attempt "
                        f"rows: {dict(outcomes)}")
    for dt, sets in quant_names.items():
        if len(sets) != 1:
            res_probs.append(f"quantize {dt}: metric name sets differ between jobs: "
                             f"{[sorted(s) for s in sets]}")
    # Identical params give identical quantize values (each result belongs to its job).
    same = defaultdict(list)
    for j in db.jobs.values():
        if j["kind"] == "quantize" and j["state"] == "SUCCEEDED":
            same[json.dumps(j["params"], sort_keys=True)].append(j["id"])
    mismatched = 0
    for ids in same.values():
        ref = db.results[ids[0]]
        mismatched += sum(1 for i in ids[1:] if db.results[i] != ref)
    if mismatched:
        res_probs.append(f"{mismatched} quantize job(s) differ from a job with identical params")
    if db.orphan_results:
        res_probs.append(f"{db.orphan_results} result rows of unknown jobs")
    if db.dup_results:
        res_probs.append(f"{db.dup_results} duplicated (job_id, name) result rows")
    return life, res_probs, per_kind_rows, per_kind_jobs


def grep_count(path, pattern):
    n = 0
    with open(path, errors="replace") as f:
        for line in f:
            if pattern in line:
                n += 1
    return n


def check(out):
    expected = json.load(open(os.path.join(out, "expected.json")))
    params = json.load(open(os.path.join(out, "params.json")))
    events = read_events(out)
    logs = os.path.join(out, "logs")
    final_path = os.path.join(out, "final", "qlab.db")
    backup_path = os.path.join(out, "backup.db")
    restore_path = os.path.join(out, "restore.db")
    checks = []  # (name, ok, detail)

    def add(name, ok, detail=""):
        checks.append((name, bool(ok), detail))

    exp_fail = {e["name"] for e in expected["experiments"] if e["expect"] == "FAILED"}
    want_counts = {e["name"]: e["jobs"] for e in expected["experiments"]}
    exp_kind = {e["name"]: e["kind"] for e in expected["experiments"]}

    # -- the final database --
    ic_final = integrity(final_path) if os.path.exists(final_path) else "missing"
    add("integrity_check of the database", ic_final == "ok", ic_final)
    db = Db(final_path) if os.path.exists(final_path) else None
    states = Counter()
    fence_job = None
    if db:
        states = Counter(j["state"] for j in db.jobs.values())
        got_counts = Counter(j["experiment"] for j in db.jobs.values())
        missing = {n: c for n, c in want_counts.items() if got_counts.get(n, 0) != c}
        extra = {n: c for n, c in got_counts.items() if n not in want_counts}
        add("every submitted job exists exactly once (jobs per experiment as submitted)",
            not missing and not extra and len(db.jobs) == expected["jobs"],
            f"{len(db.jobs)} jobs in {len(got_counts)} experiments, expected {expected['jobs']}"
            + (f"; wrong counts {dict((n, (got_counts.get(n, 0), c)) for n, c in missing.items())}" if missing else "")
            + (f"; unexpected experiments {extra}" if extra else ""))
        life, res_probs, rows_by_kind, succ_by_kind = invariants(db, exp_fail, final=True)
        want_failed = sum(want_counts[n] for n in exp_fail)
        want_succeeded = expected["jobs"] - want_failed
        add("every job ended exactly once: SUCCEEDED with exactly one 'succeeded' attempt, "
            "or FAILED where expected (the `fail: true` noops)",
            states.get("SUCCEEDED", 0) == want_succeeded and states.get("FAILED", 0) == want_failed
            and not life,
            f"{dict(states)}; expected SUCCEEDED {want_succeeded}, FAILED {want_failed}"
            + (f"; {len(life)} problems, e.g. {life[:3]}" if life else ""))
        add("result rows exact (each job's metric rows exactly once, values match the job)",
            not res_probs, f"{db.result_rows:,} rows; " + ", ".join(
                f"{k}: {rows_by_kind[k]:,} rows / {succ_by_kind[k]:,} jobs" for k in sorted(rows_by_kind))
            + (f"; {len(res_probs)} problems, e.g. {res_probs[:3]}" if res_probs else ""))
        for p in (life + res_probs)[:40]:
            print("  problem:", p)
        fence_job = next((j for j in db.jobs.values() if j["experiment"] == "fence"), None)
    else:
        add("final database present", False, final_path)

    # -- the backup and its restore --
    bk_ok = first(events, "backup_ok")[0] is not None
    ic_backup = integrity(backup_path) if os.path.exists(backup_path) else "missing"
    add("backup taken under load (qlab-server backup --to)", bk_ok and os.path.exists(backup_path),
        first(events, "backup_ok")[1] or first(events, "backup_failed")[1] or "not taken")
    add("integrity_check of the backup", ic_backup == "ok", ic_backup)
    ic_restore = integrity(restore_path) if os.path.exists(restore_path) else "missing"
    restored = first(events, "restore_served")
    add("restored copy opens in qlab-server and serves; integrity_check after",
        restored[0] is not None and ic_restore == "ok",
        f"{restored[1] or 'did not serve'}; integrity {ic_restore}")
    backup_info = ""
    if os.path.exists(backup_path) and ic_backup == "ok" and db:
        bdb = Db(backup_path)
        blife, bres, _, _ = invariants(bdb, exp_fail, final=False)
        bprob = blife + bres
        # A consistent copy: what the backup holds as finished, the final database holds the same.
        diverged = 0
        for jid, j in bdb.jobs.items():
            f = db.jobs.get(jid)
            if f is None or f["experiment"] != j["experiment"]:
                diverged += 1
            elif j["state"] in ("SUCCEEDED", "FAILED") and (
                    f["state"] != j["state"] or db.results.get(jid, {}) != bdb.results.get(jid, {})):
                diverged += 1
        bstates = Counter(j["state"] for j in bdb.jobs.values())
        bexp = Counter(j["experiment"] for j in bdb.jobs.values())
        partial = [n for n, c in bexp.items() if c != want_counts.get(n)]
        backup_info = (f"{len(bdb.jobs)} jobs ({dict(bstates)}), {bdb.result_rows} result rows, "
                       f"{len(bdb.attempt_rows)} attempts")
        add("backup is a consistent snapshot (its invariants hold; its finished jobs and results "
            "equal the final database's; no partially stored experiment)",
            not bprob and not diverged and not partial,
            backup_info + (f"; {len(bprob)} problems, e.g. {bprob[:3]}" if bprob else "")
            + (f"; {diverged} jobs differ" if diverged else "")
            + (f"; partial experiments {partial}" if partial else ""))

    # -- logs --
    locked = {}
    not_accepted = Counter()
    stale = Counter()
    full_lines = Counter()
    levels = defaultdict(Counter)  # "server" / "worker" -> level -> lines
    log_files = sorted(os.listdir(logs))
    for name in log_files:
        path = os.path.join(logs, name)
        group = "server" if name.startswith("server") else "worker" if name.startswith("w") else None
        if group:
            for line in open(path, errors="replace"):
                m = re.search(r"\] \[(warning|error|critical)\] ", line)
                if m:
                    levels[group][m.group(1)] += 1
        locked[name] = grep_count(path, "database is locked")
        not_accepted[name] = grep_count(path, "not accepted")
        stale[name] = grep_count(path, "stale fencing token")
        full_lines[name] = grep_count(path, "full")
    total_locked = sum(locked.values())
    add('zero "database is locked" in every server/worker log', total_locked == 0,
        f"{total_locked} in {len(log_files)} logs" + (
            "; " + ", ".join(f"{n}: {c}" for n, c in locked.items() if c) if total_locked else ""))

    # -- fencing: the SIGSTOPped worker's late Complete --
    stop_t, stop_d = first(events, "sigstop")
    cont_t, _ = first(events, "sigcont")
    stopped_worker = stop_d.split()[0] if stop_d else None
    fence_detail = "no SIGSTOP"
    fence_ok = False
    if stopped_worker and fence_job:
        fid = fence_job["id"]
        lines = []
        no_longer_ours = []
        for name in log_files:
            if not name.startswith(stopped_worker + "."):
                continue
            for line in open(os.path.join(logs, name), errors="replace"):
                if f"job {fid} not accepted" in line:
                    lines.append(line.strip())
                if f"job {fid} is no longer ours" in line:
                    no_longer_ours.append(line.strip())
        fa = Counter(a["outcome"] for a in db.attempts.get(fid, []))
        stopped_attempts = [a for a in db.attempts.get(fid, []) if a["worker"] == stopped_worker]
        expired_on_stopped = [a for a in stopped_attempts if a["outcome"] == "expired"]
        fence_ok = (fence_job["state"] == "SUCCEEDED" and fa["succeeded"] == 1 and expired_on_stopped
                    and any("stale fencing token" in l for l in lines))
        fence_detail = (f"worker {stopped_worker} stopped {(cont_t - stop_t) / 1000:.1f} s holding job {fid}; "
                        f"its attempts on that worker: {[a['outcome'] for a in stopped_attempts]}; job attempts "
                        f"{dict(fa)}; late Complete rejected in its log: {len(lines)} line(s)"
                        + (f" ({lines[0][lines[0].find('qlab-worker'):]})" if lines else "")
                        + (f"; instead the worker dropped the result: {no_longer_ours[0]}" if no_longer_ours and not lines else ""))
    add("late Complete of the SIGSTOPped worker rejected by fencing (stale fencing token)",
        fence_ok, fence_detail)

    # -- database full --
    fill_t, fill_d = first(events, "dbfull_filled")
    free_t, _ = first(events, "dbfull_freed")
    m_before = parse_metrics(os.path.join(out, "metrics", "before-dbfull.txt"))
    m_after = parse_metrics(os.path.join(out, "metrics", "after-dbfull.txt"))
    re_before = by_label(m_before, "qlab_rpc_requests_total", "method", code="RESOURCE_EXHAUSTED")
    re_after = by_label(m_after, "qlab_rpc_requests_total", "method", code="RESOURCE_EXHAUSTED")
    re_diff = {k: int(re_after[k] - re_before.get(k, 0)) for k in re_after if re_after[k] - re_before.get(k, 0)}
    other_codes = by_label(m_after, "qlab_rpc_requests_total", "code")
    other_before = by_label(m_before, "qlab_rpc_requests_total", "code")
    codes_diff = {k: int(other_codes[k] - other_before.get(k, 0)) for k in other_codes
                  if k not in ("OK", "RESOURCE_EXHAUSTED") and other_codes[k] - other_before.get(k, 0)}
    sub_retries = [d for t, d in all_of(events, "submit_retry") if fill_t and free_t and fill_t <= t <= free_t + 2000]
    dbfull_sub = first(events, "dbfull_submit_done")
    gen_dbfull = first(events, "dbfull_server_gen")[1]
    add("database full for 10 s: writes answered RESOURCE_EXHAUSTED, then recovered",
        fill_t is not None and free_t is not None and sum(re_diff.values()) > 0 and dbfull_sub[0] is not None,
        (f"filled {(free_t - fill_t) / 1000:.1f} s ({fill_d}); RESOURCE_EXHAUSTED by method: {re_diff or 'none'}; "
         f"other non-OK codes meanwhile: {codes_diff or 'none'}; submission in the window: "
         f"{len(sub_retries)} refused attempt(s), then {dbfull_sub[1] or 'never accepted'}")
        if fill_t and free_t else "not done")

    # -- processes --
    exits = all_of(events, "exit")
    unexpected = [d for t, d in exits if not re.search(r" rc=(0|137)( |$)", d) or ("killed=0" in d and "rc=137" in d)]
    hung = all_of(events, "hung")
    add("no crash or hang (every process exited as expected: 137 where SIGKILLed, 0 on SIGTERM)",
        not unexpected and not hung and first(events, "all_done")[0] is not None,
        f"{len(exits)} exits" + (f"; unexpected: {unexpected}" if unexpected else "")
        + (f"; hung: {[d for t, d in hung]}" if hung else "")
        + ("" if first(events, "all_done")[0] else "; the jobs did not all finish before --timeout"))

    # Evaluator children of SIGKILLed workers, and what killed workers left in their TMPDIR.
    orphans = [d for t, d in all_of(events, "orphan")]
    runaway = [d for d in orphans if "still running" in d]
    add("no evaluator child of a SIGKILLed worker still running 120 s later", not runaway,
        "; ".join(orphans) if orphans else "the killed workers had no child process")
    leftovers = []
    wtmp = os.path.join(out, "wtmp")
    if os.path.isdir(wtmp):
        for w in sorted(os.listdir(wtmp)):
            for entry in os.listdir(os.path.join(wtmp, w)):
                n = sum(len(f) for _, _, f in os.walk(os.path.join(wtmp, w, entry)))
                leftovers.append(f"{w}: {entry} ({n} files)")

    ok = all(c[1] for c in checks)

    # -- figures --
    t_start = first(events, "first_submit")[0]
    t_done = first(events, "all_done")[0]
    last_finish = max((j["finished"] for j in db.jobs.values()), default=0) if db else 0
    wall = ((t_done or last_finish) - t_start) / 1000 if t_start else float("nan")
    outcome_counts = Counter(a["outcome"] for a in db.attempt_rows) if db else Counter()
    expired = [a for a in db.attempt_rows if a["outcome"] == "expired"] if db else []
    expired_by_worker = Counter(a["worker"] for a in expired)
    restarts = []
    for i, (tk, d) in enumerate(all_of(events, "coord_kill")):
        gen = d.split()[0]
        tl = next((t for t, dd in all_of(events, "coord_listening") if dd.split()[0] == gen), None)
        ts = next((t for t, dd in all_of(events, "coord_serving") if dd.split()[0] == gen), None)
        tsp = next((t for t, dd in all_of(events, "coord_spawn") if dd.split()[0] == gen), None)
        lease = min((a["leased"] for a in db.attempt_rows if tsp and a["leased"] >= tsp), default=None) if db else None
        done_after = min((a["finished"] for a in db.attempt_rows if tsp and a["outcome"] == "succeeded"
                          and a["started"] and a["leased"] >= tsp), default=None) if db else None
        tw = next((t for t, dd in all_of(events, "coord_workers_back") if dd.split()[0] == gen), None)
        back = sorted((t - tk) / 1000 for t, dd in all_of(events, "coord_worker_back") if dd.split()[0] == gen)
        restarts.append({"kill": i + 1, "gen": gen, "listening": (tl - tk) / 1000 if tl else None,
                         "workers_back": (tw - tk) / 1000 if tw else None, "each_back": back,
                         "serving": (ts - tk) / 1000 if ts else None,
                         "spawn_serving": (ts - tsp) / 1000 if ts and tsp else None,
                         "first_lease": (lease - tk) / 1000 if lease else None,
                         "first_new_job_done": (done_after - tk) / 1000 if done_after else None})
    wkills = all_of(events, "worker_kill")
    wrestarts = all_of(events, "worker_restart")
    bk_t, bk_d = first(events, "backup_ok")

    # -- print + markdown --
    lines = []
    P = lines.append
    P(f"### Run of {expected['jobs']:,} jobs ({params.get('date', '')})")
    P("")
    P(f"Machine: {params.get('cpu', '?')}, {params.get('nproc', '?')} vCPU, "
      f"{params.get('mem', '?')}; {params.get('load', '')}. "
      f"Coordinator lease TTL {params['ttl_ms']} ms (heartbeat every {int(params['ttl_ms']) // 3} ms), "
      f"8 workers × 1 slot, database on a {params['tmpfs_mb']} MiB tmpfs.")
    if params.get("binaries"):
        P("")
        P(f"Binaries (copied to OUT/bin at the start; build times of the originals): {params['binaries']}.")
    P("")
    kinds = Counter(exp_kind[e] for e in want_counts for _ in range(want_counts[e]))
    P(f"Jobs: {', '.join(f'{k} {v:,}' for k, v in sorted(kinds.items()))} "
      f"(noop 0–50 ms, {FAIL_JOBS} of them `fail: true`, 1 `fence` noop of {FENCE_MS} ms; "
      f"quantize {QUANT_SHAPE[0]}×{QUANT_SHAPE[1]} Gaussian; accuracy on models/kjv), "
      f"submitted in {CHUNKS} parts during the run.")
    P("")
    P("| figure | value |")
    P("|---|---|")
    P(f"| wall time, first submission to last job finished | {wall:.1f} s |")
    P(f"| throughput over the whole run, faults included | {expected['jobs'] / wall:.1f} jobs/s |")
    P(f"| final states | {', '.join(f'{k} {v:,}' for k, v in sorted(states.items()))} |")
    by_outcome = ", ".join(f"{k or 'live'} {v:,}" for k, v in sorted(outcome_counts.items()))
    P(f"| attempts by outcome | {by_outcome} |")
    P(f"| expired leases by worker | {', '.join(f'{k} {v}' for k, v in sorted(expired_by_worker.items())) or 'none'} |")
    P(f"| result rows | {db.result_rows if db else 0:,} |")
    if db:
        per_kind = defaultdict(list)
        for a in db.attempt_rows:
            if a["outcome"] == "succeeded" and a["started"] and a["finished"] >= a["started"]:
                per_kind[db.jobs[a["job"]]["kind"]].append((a["finished"] - a["started"]) / 1000)
        P("| worker time per succeeded job, mean (total) | " + ", ".join(
            f"{k} {sum(v) / len(v):.3f} s ({sum(v):,.0f} s)" for k, v in sorted(per_kind.items())) + " |")
    dbsize = params.get("db_bytes_final")
    if dbsize:
        P(f"| database size at the end (file + WAL) | {int(dbsize) / 1e6:.1f} MB |")
    for r in restarts:
        P(f"| coordinator SIGKILL {r['kill']}: restarted process start → serving RPCs; kill → listening / serving RPCs / "
          f"all live workers talking to it again / first new lease granted / first job leased after the restart "
          f"finished | {fmt(r['spawn_serving'])}; {fmt(r['listening'])} / {fmt(r['serving'])} / "
          f"{fmt(r['workers_back'])} / {fmt(r['first_lease'])} / {fmt(r['first_new_job_done'])} |")
    for r in restarts:
        P(f"| coordinator SIGKILL {r['kill']}: kill → each worker's first call to the new coordinator | "
          f"{', '.join(f'{x:.1f}' for x in r['each_back'])} s |")
    if bk_t:
        P(f"| backup under load | {bk_d} |")
    P("")
    P("Faults injected:")
    P("")
    P(f"- coordinator SIGKILLed {len(all_of(events, 'coord_kill'))}× and restarted on the same file and port;")
    P(f"- workers SIGKILLed {len(wkills)}×: {', '.join(d for t, d in wkills)}; restarted: "
      f"{', '.join(d for t, d in wrestarts) or 'none'};")
    if stop_t:
        P(f"- worker {stopped_worker} SIGSTOPped for {(cont_t - stop_t) / 1000:.1f} s (lease TTL "
          f"{int(params['ttl_ms']) / 1000:.0f} s) while running the `fence` job, then SIGCONTed during a 1 s "
          f"SIGSTOP of the coordinator (so that its late Complete reaches the coordinator before a "
          f"heartbeat reply tells the worker its lease is gone);")
    if fill_t:
        P(f"- database full for {(free_t - fill_t) / 1000:.1f} s (tmpfs filled with a filler file, then it was deleted);")
    P(f"- `qlab-server backup --to` once under load, then the copy restored (a server started on it) and checked.")
    P("")
    P("| check | result | detail |")
    P("|---|---|---|")
    for name, good, detail in checks:
        P(f"| {name} | {'PASS' if good else '**FAIL**'} | {detail.replace('|', '/')} |")
    P("")
    P(f"Log lines: " + ", ".join(f"{n}: {not_accepted[n]} 'not accepted'" for n in log_files if not_accepted[n])
      + ("" if any(not_accepted.values()) else "no 'not accepted'")
      + "; lines mentioning 'full': " + (", ".join(f"{n} {c}" for n, c in full_lines.items() if c) or "none") + ".")
    P("")
    P("Left in the workers' TMPDIR after they stopped: " + ("; ".join(leftovers) or "nothing") + ".")
    P("")
    P("Log levels: " + "; ".join(f"{g} logs: " + (", ".join(f"{n} {lv}" for lv, n in sorted(c.items())) or "none")
                                 for g, c in sorted(levels.items())) + ".")
    P("")
    P(f"Overall: {'PASS' if ok else 'FAIL'}")
    report = "\n".join(lines) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(report)
    print(report)
    return 0 if ok else 1


def fmt(x):
    return "–" if x is None else f"{x:.2f} s"


