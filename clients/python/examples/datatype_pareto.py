#!/usr/bin/env python3
"""From a sweep file to a Pareto plot: the datatype sweep, submitted and plotted from Python.

    PYTHONPATH=clients/python python3 clients/python/examples/datatype_pareto.py \
        --server 127.0.0.1:7070 --out pareto.png

Walks what a researcher does after `scripts/demo` has a coordinator and a worker running:
submit experiments/datatype-sweep.yaml (7 formats x 2 group sizes on Student-t weights), wait
for it, take the results as a pandas DataFrame, ask the coordinator for the bits-vs-MSE
frontier, and draw every job with the frontier over it.
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")  # files, not windows: this runs on servers and in CI
import matplotlib.pyplot as plt  # noqa: E402

import qlab  # noqa: E402

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=None, help="coordinator HOST:PORT (default QLAB_SERVER)")
    parser.add_argument("--sweep", default=os.path.join(REPO, "experiments", "datatype-sweep.yaml"))
    parser.add_argument("--name", default=None, help="experiment name (default: the file's)")
    parser.add_argument("--out", default="datatype-pareto.png")
    args = parser.parse_args()

    # 1. Submit the sweep file (YAML or JSON, or a dict) and wait: a progress bar with tqdm.
    client = qlab.Client(args.server)
    experiment = client.submit(args.sweep, name=args.name).wait()
    print(f"{experiment.name}: {experiment.job_count} jobs, all succeeded: {experiment.succeeded}")

    # 2. Results as a DataFrame: one row per job, params and metrics as columns.
    frame = experiment.to_pandas()
    table = frame[["datatype", "group_size", "bits_per_weight", "mse", "sqnr_db"]]
    print(table.sort_values("bits_per_weight").to_string(index=False))

    # 3. The frontier, computed by the coordinator (both metrics minimized by their own flags).
    front = experiment.pareto("bits_per_weight", "mse").to_pandas().sort_values("bits_per_weight")
    print("Pareto-optimal:", ", ".join(f"{d} g{g}" for d, g in zip(front.datatype, front.group_size)))

    # 4. Plot every job, coloured by group size, with the frontier drawn over it.
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for group_size, jobs in frame.groupby("group_size"):
        ax.scatter(jobs.bits_per_weight, jobs.mse, label=f"group {group_size}", s=28)
        for row in jobs.itertuples():
            ax.annotate(row.datatype, (row.bits_per_weight, row.mse), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    ax.step(front.bits_per_weight, front.mse, where="post", color="black", lw=1,
            label="Pareto frontier")
    ax.set_xlabel("bits per weight (payload + scales)")
    ax.set_ylabel("MSE (log scale)")
    ax.set_yscale("log")
    ax.set_title(f"{experiment.name}: weight formats on Student-t (nu=5) weights")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
