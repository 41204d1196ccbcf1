"""The Python client against a real coordinator and worker on loopback."""
import json
import os

import pytest

import qlab
from conftest import REPO

QUANTIZE_SWEEP = {
    "name": "py-quantize",
    "kind": "quantize",
    "params": {"distribution": "student_t", "nu": 5, "shape": [64, 512], "seed": 3,
               "scale_search": "none"},
    "axes": {"datatype": ["int4_asym", "nf4", "e2m1"], "group_size": [32, 128]},
}


@pytest.fixture(scope="module")
def finished_sweep(coordinator):
    experiment = coordinator.client().submit(QUANTIZE_SWEEP).wait(progress=False, timeout=120)
    return experiment


def test_submit_returns_the_experiment_and_its_jobs(finished_sweep):
    assert finished_sweep.name == "py-quantize"
    assert finished_sweep.id > 0
    assert finished_sweep.job_count == 6
    assert len(finished_sweep.job_ids) == 6
    status = finished_sweep.status()
    assert (status["total"], status["succeeded"], status["done"]) == (6, 6, 6)
    assert finished_sweep.succeeded


def test_results_match_the_cli_row_for_row(coordinator, finished_sweep):
    code, out, err = coordinator.cli("results", "--experiment", "py-quantize", "--json")
    assert code == 0, err
    cli_rows = json.loads(out)
    rows = finished_sweep.results()
    assert len(rows) == 6
    # Same rows, same order, same keys in the same order, same values.
    assert json.loads(json.dumps(rows)) == cli_rows
    assert [list(r) for r in rows] == [list(r) for r in cli_rows]
    for row in rows:
        assert row["state"] == "SUCCEEDED"
        assert {"mse", "sqnr_db", "max_abs_err", "bits_per_weight"} <= set(row["metrics"])


def test_filtered_results_match_the_cli(coordinator, finished_sweep):
    rows = finished_sweep.results(filter="datatype = nf4 and group_size <= 64")
    code, out, _ = coordinator.cli("results", "--experiment", "py-quantize", "--json",
                                   "--filter", "datatype = nf4 and group_size <= 64")
    assert code == 0
    assert json.loads(json.dumps(rows)) == json.loads(out)
    assert [(r["params"]["datatype"], r["params"]["group_size"]) for r in rows] == [("nf4", 32)]


def test_to_pandas_has_params_and_metrics_as_columns(finished_sweep):
    frame = finished_sweep.to_pandas()
    assert len(frame) == 6
    for column in ("job_id", "experiment", "kind", "state", "datatype", "group_size", "shape",
                   "mse", "sqnr_db", "max_abs_err", "bits_per_weight"):
        assert column in frame.columns, column
    assert list(frame.columns[:4]) == ["job_id", "experiment", "kind", "state"]
    assert sorted(frame["datatype"].unique()) == ["e2m1", "int4_asym", "nf4"]
    assert frame["shape"].iloc[0] == (64, 512)
    assert frame["mse"].dtype.kind == "f"
    assert (frame["mse"] > 0).all()
    # Larger groups store fewer scales: bits per weight drops from g32 to g128.
    by_group = frame.groupby("group_size")["bits_per_weight"].mean()
    assert by_group[128] < by_group[32]


def test_pareto_matches_the_cli(coordinator, finished_sweep):
    for all_points, flags in ((False, []), (True, ["--all"])):
        rows = finished_sweep.pareto("bits_per_weight", "mse", all_points=all_points)
        code, out, err = coordinator.cli("pareto", "--experiment", "py-quantize", "--x",
                                         "bits_per_weight", "--y", "mse", "--json", *flags)
        assert code == 0, err
        assert json.loads(json.dumps(rows)) == json.loads(out)
    assert len(finished_sweep.pareto("bits_per_weight", "mse", all_points=True)) == 6
    front = finished_sweep.pareto("bits_per_weight", "mse")
    assert 1 <= len(front) < 6 and all(p["on_frontier"] for p in front)


def test_joined_results_match_the_cli(coordinator, finished_sweep):
    # The same tensor with scale search, and one datatype more: its rows have no partner.
    other = dict(QUANTIZE_SWEEP, name="py-quantize-mse",
                 params=dict(QUANTIZE_SWEEP["params"], scale_search="mse"),
                 axes={"datatype": ["int4_asym", "nf4", "e2m1", "sf4"], "group_size": [32, 128]})
    coordinator.client().submit(other).wait(progress=False, timeout=120)
    joined = finished_sweep.results(join="py-quantize-mse", on="datatype, group_size")
    code, out, err = coordinator.cli("results", "--experiment", "py-quantize", "--join",
                                     "py-quantize-mse", "--on", "datatype,group_size", "--json")
    assert code == 0, err
    assert json.loads(json.dumps(joined.to_json())) == json.loads(out)
    assert len(joined) == 6 and joined.unmatched_a == [] and len(joined.unmatched_b) == 2
    assert {"py-quantize:mse", "py-quantize-mse:mse"} <= set(joined.metric_names)
    frame = joined.to_pandas()
    assert {"datatype", "group_size", "job_id_a", "job_id_b", "py-quantize:mse"} <= set(frame.columns)
    with pytest.raises(qlab.InvalidArgument, match="on:"):
        finished_sweep.results(join="py-quantize-mse")


def test_pareto_directions_are_honoured(coordinator):
    client = coordinator.client()
    points = [{"x": 1, "y": 1}, {"x": 2, "y": 3}, {"x": 3, "y": 2}]
    experiment = client.submit({"name": "py-pareto", "kind": "noop", "params": {},
                                "axes": {"metrics": points}}).wait(progress=False, timeout=60)
    minimize = experiment.pareto("x", "y", x_dir="min", y_dir="min")
    assert [(p["x"], p["y"]) for p in minimize] == [(1, 1)]
    maximize = experiment.pareto("x", "y", x_dir="max", y_dir="max")
    assert sorted((p["x"], p["y"]) for p in maximize) == [(2, 3), (3, 2)]
    with pytest.raises(qlab.InvalidArgument, match="x_dir"):
        experiment.pareto("x", "y", x_dir="up")


def test_a_bad_sweep_raises_with_the_field_named(coordinator):
    client = coordinator.client()
    bad_datatype = dict(QUANTIZE_SWEEP, name="py-bad", axes={"datatype": ["int99"]})
    with pytest.raises(qlab.InvalidSweep, match="datatype") as caught:
        client.submit(bad_datatype)
    assert caught.value.code.name == "INVALID_ARGUMENT"
    assert isinstance(caught.value, qlab.InvalidArgument)
    unknown_key = dict(QUANTIZE_SWEEP, name="py-bad", params={**QUANTIZE_SWEEP["params"],
                                                              "grup_size": 3})
    with pytest.raises(qlab.InvalidSweep, match="grup_size"):
        client.submit(unknown_key)
    # Nothing was stored for either.
    with pytest.raises(qlab.NotFound):
        client.experiment("py-bad")


def test_a_bad_sweep_file_names_its_line(tmp_path, coordinator):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nkind: [quantize\n")
    with pytest.raises(qlab.InvalidSweep, match=r"broken.yaml: sweep file is not valid YAML: line"):
        coordinator.client().submit(path)
    with pytest.raises(FileNotFoundError, match="missing.yaml"):
        coordinator.client().submit(tmp_path / "missing.yaml")


def test_dry_run_counts_and_stores_nothing(coordinator):
    client = coordinator.client()
    dry = client.submit(dict(QUANTIZE_SWEEP, name="py-dry"), dry_run=True)
    assert (dry.id, dry.job_count) == (0, 6)
    with pytest.raises(qlab.NotFound):
        client.experiment("py-dry")


def test_jobs_job_and_cancel(idle_coordinator):
    client = idle_coordinator.client()
    experiment = client.submit({"name": "py-pending", "kind": "noop",
                                "params": {"duration_ms": 10}, "axes": {"seq": [1, 2, 3]}})
    jobs = client.jobs(experiment="py-pending")
    assert sorted(j["job_id"] for j in jobs) == experiment.job_ids
    assert all(j["state"] == "PENDING" and j["pending_reason"] for j in jobs)
    assert len(client.jobs(experiment="py-pending", limit=2)) == 2
    assert client.jobs(experiment="py-pending", state="succeeded") == []
    with pytest.raises(qlab.InvalidArgument, match="state"):
        client.jobs(state="sleeping")

    job = client.job(experiment.job_ids[0])
    code, out, _ = idle_coordinator.cli("show", str(experiment.job_ids[0]), "--json")
    assert code == 0
    shown = json.loads(out)
    assert {k: job[k] for k in shown} == shown  # every field `qlab show --json` prints
    assert job["attempt_history"] == []

    assert client.cancel(job_id=experiment.job_ids[0]) == 1
    assert client.job(experiment.job_ids[0])["state"] == "CANCELLED"
    assert experiment.cancel() == 2
    status = experiment.status()
    assert (status["cancelled"], status["done"]) == (3, 3)
    assert not experiment.succeeded
    with pytest.raises(qlab.NotFound):
        client.job(999_999)
    with pytest.raises(qlab.InvalidArgument):
        client.cancel()


def test_wait_times_out_on_jobs_nobody_runs(idle_coordinator):
    experiment = idle_coordinator.client().submit(
        {"name": "py-stuck", "kind": "noop", "params": {}})
    with pytest.raises(qlab.Timeout, match="py-stuck"):
        experiment.wait(progress=False, timeout=0.5, poll_s=0.1)
    experiment.cancel()


def test_a_crashing_job_is_poison_and_its_logs_are_kept(coordinator):
    client = coordinator.client()
    experiment = client.submit({"name": "py-crash", "kind": "noop", "params": {"fault": "abort"},
                                "max_attempts": 1}).wait(progress=False, timeout=60)
    job = client.job(experiment.job_ids[0])
    assert job["state"] == "FAILED" and job["failure_class"] == "poison"
    assert [a["failure_class"] for a in job["attempt_history"]] == ["crash"]
    assert job["attempt_history"][0]["log_bytes"] > 0
    logs = client.logs(experiment.job_ids[0])
    assert (logs["attempt"], logs["attempts"], logs["failure_class"]) == (1, 1, "crash")
    assert "injecting fault 'abort'" in logs["log"]
    with pytest.raises(qlab.InvalidArgument, match="1 attempt"):
        client.logs(experiment.job_ids[0], attempt=2)


def test_workers_lists_the_live_worker(coordinator):
    workers = coordinator.client().workers()
    assert len(workers) == 1
    worker = workers[0]
    assert worker["live"] and worker["slots"] == 2
    assert "quantize" in worker["kinds"] and "noop" in worker["kinds"]
    assert [d["name"] for d in worker["devices"]] == ["cpu"]
    assert worker["devices"][0]["device_class"] == "cpu"


def test_experiments_and_handles(coordinator, finished_sweep):
    client = coordinator.client()
    names = [e["name"] for e in client.experiments()]
    assert "py-quantize" in names
    handle = client.experiment("py-quantize")
    assert (handle.id, handle.job_count) == (finished_sweep.id, 6)
    assert handle.results() == finished_sweep.results()


def test_artifacts_of_a_job_without_any(coordinator, finished_sweep):
    client = coordinator.client()
    assert client.artifacts(finished_sweep.job_ids[0]) == []
    with pytest.raises(qlab.NotFound):
        client.artifact(finished_sweep.job_ids[0], "predictor.json")


def test_empty_dataset_keeps_its_columns(coordinator):
    frame = coordinator.client().dataset(space="nb201", device="cpu", batch=1)
    assert len(frame) == 0
    assert list(frame.columns[:4]) == ["arch_index", "arch", "arch_key", "device"]


def test_unreachable_server_raises_unavailable():
    client = qlab.Client("127.0.0.1:1", timeout=2)
    with pytest.raises(qlab.Unavailable):
        client.workers()


def test_address_token_and_ca_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("QLAB_SERVER", "127.0.0.1:9")
    monkeypatch.setenv("QLAB_TOKEN", "secret\n")
    monkeypatch.delenv("QLAB_TLS_CA", raising=False)
    client = qlab.Client()
    assert client.address == "127.0.0.1:9"
    assert client._metadata == (("authorization", "Bearer secret"),)
    assert qlab.Client(address="127.0.0.1:8", token="t")._metadata == (
        ("authorization", "Bearer t"),)


def test_pip_installs_the_package_offline(tmp_path):
    """`pip install clients/python` in a venv that sees Debian's modules, with no index."""
    import subprocess
    import sys
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    pip = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index",
                          "--no-deps", os.path.join(REPO, "clients", "python")],
                         capture_output=True, text=True)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    probe = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import qlab, qlab.v1.job_service_pb2_grpc as g; print(qlab.__file__)"],
                           capture_output=True, text=True, cwd=str(tmp_path),
                           env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert probe.returncode == 0, probe.stderr
    assert str(venv) in probe.stdout


def test_the_example_draws_the_pareto_plot(coordinator, tmp_path):
    """examples/datatype_pareto.py, as the README runs it, on the shipped datatype sweep."""
    import subprocess
    import sys
    out = tmp_path / "pareto.png"
    done = subprocess.run([sys.executable, os.path.join(REPO, "clients", "python", "examples",
                                                        "datatype_pareto.py"),
                           "--server", coordinator.address, "--name", "py-example",
                           "--out", str(out)], capture_output=True, text=True, timeout=240,
                          env=dict(os.environ, PYTHONPATH=os.path.join(REPO, "clients", "python")))
    assert done.returncode == 0, done.stderr
    assert "py-example: 14 jobs, all succeeded: True" in done.stdout
    assert "Pareto-optimal:" in done.stdout
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
