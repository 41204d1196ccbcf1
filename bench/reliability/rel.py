#!/usr/bin/env python3
"""Helper of bench/reliability/run.sh: plans the sweeps and polls the coordinator's HTTP API;
`check` runs rel_check.py's checks of the finished run (database, backup, restored copy, logs).

  rel.py plan OUT JOBS ACCURACY_JOBS MODEL_DIR   write OUT/sweeps/*.json and OUT/expected.json
  rel.py summary HTTP                            "terminal total pending leased running succeeded failed cancelled"
  rel.py live HTTP                               the ids of the live workers
  rel.py job HTTP ID                             "STATE WORKER"
  rel.py exp-total HTTP NAME                     the job count of an experiment ("-" when it does not exist)
  rel.py check OUT                               print the summary, write OUT/report.md; exit 1 on a failed check

Only the standard library.
"""
import json
import os
import sys
import urllib.error
import urllib.request

CHUNKS = 9  # submissions of noop + quantize work: one at the start, one before each fault step
NOOP_DURATIONS = [0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50]
QUANT_DATATYPES = ["int4_asym", "nf4", "e2m1", "int8_asym", "razer_fp4"]
QUANT_GROUPS = [32, 128]
QUANT_SHAPE = [64, 512]
ACC_DATATYPES = ["int4_asym", "nf4", "e2m1", "razer_fp4", "int3_asym", "sf4", "int4_sym", "fp3"]
FAIL_JOBS = 4
FENCE_MS = 6000

STATE = {1: "PENDING", 2: "LEASED", 3: "RUNNING", 4: "SUCCEEDED", 5: "FAILED", 6: "CANCELLED"}
QUANT_REQUIRED = {"mse", "sqnr_db", "max_abs_err", "kl", "bits_per_weight", "hw_cost",
                  "bit_sparsity", "num_weights"}
ACC_REQUIRED = {"perplexity", "perplexity_ref", "nll_increase", "tokens_per_s", "bits_per_weight",
                "weight_bytes", "hw_cost", "num_quantized_weights", "scored_tokens", "context"}
ACC_OPTIONAL = {"weight_sqnr_db", "zero_weight_error"}


# ---- plan ----------------------------------------------------------------------------------

def plan(out, jobs, acc_jobs, model_dir):
    jobs, acc_jobs = int(jobs), int(acc_jobs)
    acc_jobs = max(0, min(acc_jobs, len(ACC_DATATYPES)))
    per_q = 10 * max(1, round(jobs * 0.05 / (CHUNKS * 10)))  # ~5% quantize, multiples of 10
    seeds = per_q // 10
    noop_total = jobs - acc_jobs - FAIL_JOBS - 1 - CHUNKS * per_q
    if noop_total < CHUNKS * len(NOOP_DURATIONS):
        sys.exit(f"rel.py plan: --jobs {jobs} is too small (at least "
                 f"{acc_jobs + FAIL_JOBS + 1 + CHUNKS * (per_q + len(NOOP_DURATIONS))})")
    sweeps = os.path.join(out, "sweeps")
    os.makedirs(sweeps, exist_ok=True)
    expected = []

    def write(chunk, sweep, count, expect_state="SUCCEEDED"):
        path = os.path.join(sweeps, sweep["name"] + ".json")
        with open(path, "w") as f:
            json.dump(sweep, f)
        expected.append({"name": sweep["name"], "kind": sweep["kind"], "jobs": count,
                         "chunk": chunk, "file": path, "expect": expect_state})

    if acc_jobs:
        write(0, {"name": "accuracy", "kind": "accuracy",
                  "params": {"model": os.path.join(model_dir, "model.bin"),
                             "tokens": os.path.join(model_dir, "heldout.tok"),
                             "context": 256, "group_size": 128, "scale_search": "none",
                             "threads": 1},
                  "axes": {"datatype": ACC_DATATYPES[:acc_jobs]}}, acc_jobs)
    write(0, {"name": "noop-fail", "kind": "noop", "params": {"fail": True, "duration_ms": 0},
              "axes": {"seq": list(range(FAIL_JOBS))}}, FAIL_JOBS, "FAILED")
    per_noop = noop_total // CHUNKS
    rest = noop_total
    for c in range(CHUNKS):
        n = per_noop // len(NOOP_DURATIONS)
        write(c, {"name": f"noop-{c}", "kind": "noop", "params": {},
                  "axes": {"seq": list(range(n)), "duration_ms": NOOP_DURATIONS}},
              n * len(NOOP_DURATIONS))
        rest -= n * len(NOOP_DURATIONS)
        write(c, {"name": f"quantize-{c}", "kind": "quantize",
                  "params": {"distribution": "gaussian", "shape": QUANT_SHAPE,
                             "scale_search": "none", "threads": 1},
                  "axes": {"seed": list(range(1, seeds + 1)), "datatype": QUANT_DATATYPES,
                           "group_size": QUANT_GROUPS}}, per_q)
    if rest > 0:  # what the even split left over, with the last chunk
        write(CHUNKS - 1, {"name": "noop-rest", "kind": "noop", "params": {"duration_ms": 25},
                           "axes": {"seq": list(range(rest))}}, rest)
    # The job the SIGSTOPped worker holds: long enough to be caught running, first in line.
    write(-1, {"name": "fence", "kind": "noop", "params": {"duration_ms": FENCE_MS, "label": "fence"},
               "priority": 100}, 1)
    total = sum(e["jobs"] for e in expected)
    assert total == jobs, (total, jobs)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump({"jobs": jobs, "experiments": expected}, f, indent=1)
    for c in range(-1, CHUNKS):
        print(c, " ".join(e["name"] for e in expected if e["chunk"] == c))


# ---- polling -------------------------------------------------------------------------------

def get(http, path):
    with urllib.request.urlopen(f"http://{http}{path}", timeout=5) as r:
        return json.loads(r.read())


def summary(http):
    j = get(http, "/api/v1/summary")["jobs"]
    total = sum(j.values())
    terminal = j.get("SUCCEEDED", 0) + j.get("FAILED", 0) + j.get("CANCELLED", 0)
    print(terminal, total, j.get("PENDING", 0), j.get("LEASED", 0), j.get("RUNNING", 0),
          j.get("SUCCEEDED", 0), j.get("FAILED", 0), j.get("CANCELLED", 0))


def live(http):
    print(" ".join(sorted(w["worker_id"] for w in get(http, "/api/v1/workers") if w.get("live"))))


def job(http, job_id):
    j = get(http, f"/api/v1/jobs/{job_id}")
    print(j["state"], j.get("worker_id") or "-")


def exp_total(http, name):
    try:
        print(get(http, f"/api/v1/experiments/{name}")["total"])
    except urllib.error.HTTPError:
        print("-")


# ---- check ---------------------------------------------------------------------------------

def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "plan":
        plan(*sys.argv[2:6])
    elif cmd == "summary":
        summary(sys.argv[2])
    elif cmd == "live":
        live(sys.argv[2])
    elif cmd == "job":
        job(sys.argv[2], sys.argv[3])
    elif cmd == "exp-total":
        exp_total(sys.argv[2], sys.argv[3])
    elif cmd == "check":
        from rel_check import check  # the checks live beside this file
        sys.exit(check(sys.argv[2]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
