"""Sweep files read by the Python client mean what they mean to `qlab submit`."""
import glob
import json
import os

import pytest

import qlab
from conftest import REPO

TRICKY = """\
name: tricky
kind: noop
params:
  duration_ms: 0
axes:
  metrics:
    - {x: 1.5, y: -2, z: 1e-3}
    - {x: .5, y: +3, z: 0x10}
  label: ["5", yes, on, 'true', 1_000, ~, null, True, 12345678901234567890]
"""

EXPECTED_TRICKY = {
    "name": "tricky", "kind": "noop", "params": {"duration_ms": 0},
    "axes": {"metrics": [{"x": 1.5, "y": -2, "z": 0.001}, {"x": 0.5, "y": 3, "z": 16.0}],
             "label": ["5", "yes", "on", "true", "1_000", None, None, True,
                       1.2345678901234567e19]},
}


def test_scalars_follow_the_cli_rules():
    assert qlab.sweep_text_to_dict(TRICKY) == EXPECTED_TRICKY


def _stored_sweep(client, name):
    handle = client._call(client._jobs.GetExperiment,
                          qlab.client.job_service_pb2.GetExperimentRequest(name=name))
    stored = json.loads(handle.sweep_json)
    stored.pop("name")
    return stored


SHIPPED = sorted(glob.glob(os.path.join(REPO, "experiments", "*.yaml")))


@pytest.mark.parametrize("path", SHIPPED + ["tricky"], ids=os.path.basename)
def test_same_sweep_as_the_cli(path, idle_coordinator, tmp_path):
    if path == "tricky":
        path = tmp_path / "tricky.yaml"
        path.write_text(TRICKY)
    stem = os.path.basename(str(path)).replace(".yaml", "")
    code, _, err = idle_coordinator.cli("submit", str(path), "--name", "cli-" + stem)
    if code != 0:
        pytest.fail(f"qlab submit {path}: {err}")
    client = idle_coordinator.client()
    experiment = client.submit(path, name="py-" + stem)
    try:
        stored = _stored_sweep(client, "py-" + stem)
        assert stored == _stored_sweep(client, "cli-" + stem)
        if "search" in stored:
            # A study creates its jobs as it goes: compare its budget and its report instead.
            assert experiment.study_trials == stored["search"]["trials"]
            assert client.study("py-" + stem)["trials_budget"] == experiment.study_trials
        else:
            assert experiment.job_count == client.experiment("cli-" + stem).job_count
    finally:
        client.cancel(experiment="cli-" + stem)
        client.cancel(experiment="py-" + stem)
