"""Token and TLS handling of the client, against an in-process gRPC server that enforces the
DESIGN §10 conventions (bearer token in `authorization` metadata, roles, TLS with a CA file)."""
import concurrent.futures
import shutil
import subprocess

import grpc
import pytest

import qlab
from conftest import Coordinator, create_token
from qlab.v1 import job_service_pb2, job_service_pb2_grpc

TOKENS = {"viewer-token": "viewer", "submitter-token": "submitter"}


class RoleCheckingJobService(job_service_pb2_grpc.JobServiceServicer):
    def _role(self, context):
        header = dict(context.invocation_metadata()).get("authorization", "")
        role = TOKENS.get(header.removeprefix("Bearer "))
        if role is None:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or unknown bearer token")
        return role

    def ListExperiments(self, request, context):
        self._role(context)
        return job_service_pb2.ListExperimentsResponse(
            experiments=[job_service_pb2.Experiment(id=1, name="seen")])

    def SubmitExperiment(self, request, context):
        if self._role(context) != "submitter":
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "role viewer may not SubmitExperiment")
        return job_service_pb2.SubmitExperimentResponse(experiment_id=7, name="ok", job_count=1)


def _serve(credentials=None):
    server = grpc.server(concurrent.futures.ThreadPoolExecutor(max_workers=2))
    job_service_pb2_grpc.add_JobServiceServicer_to_server(RoleCheckingJobService(), server)
    if credentials is None:
        port = server.add_insecure_port("127.0.0.1:0")
    else:
        port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    return server, f"127.0.0.1:{port}"


SWEEP = {"name": "ok", "kind": "noop", "params": {}}


def test_calls_carry_the_token_and_map_auth_errors():
    server, address = _serve()
    try:
        with pytest.raises(qlab.Unauthenticated, match="bearer token"):
            qlab.Client(address, token="").experiments()
        with pytest.raises(qlab.Unauthenticated):
            qlab.Client(address, token="stolen").experiments()
        viewer = qlab.Client(address, token="viewer-token")
        assert [e["name"] for e in viewer.experiments()] == ["seen"]
        with pytest.raises(qlab.PermissionDenied, match="may not SubmitExperiment") as caught:
            viewer.submit(SWEEP)
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert qlab.Client(address, token="submitter-token").submit(SWEEP).id == 7
    finally:
        server.stop(None)


def test_token_from_the_environment(monkeypatch):
    server, address = _serve()
    try:
        monkeypatch.setenv("QLAB_TOKEN", "submitter-token")
        assert qlab.Client(address).submit(SWEEP).id == 7
    finally:
        server.stop(None)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_tls_with_a_self_signed_certificate(tmp_path, monkeypatch):
    key, cert = tmp_path / "server.key", tmp_path / "server.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    credentials = grpc.ssl_server_credentials([(key.read_bytes(), cert.read_bytes())])
    server, address = _serve(credentials)
    try:
        client = qlab.Client(address, token="viewer-token", ca=str(cert))
        assert [e["name"] for e in client.experiments()] == ["seen"]
        monkeypatch.setenv("QLAB_TLS_CA", str(cert))
        assert len(qlab.Client(address, token="viewer-token").experiments()) == 1
        # A plaintext client cannot talk to a TLS server.
        monkeypatch.delenv("QLAB_TLS_CA")
        with pytest.raises(qlab.Unavailable):
            qlab.Client(address, token="viewer-token", timeout=3).experiments()
    finally:
        server.stop(None)


def test_against_a_coordinator_with_an_auth_file(tmp_path):
    auth_file = str(tmp_path / "auth")
    viewer, submitter = create_token(auth_file, "viewer"), create_token(auth_file, "submitter")
    coordinator = Coordinator(str(tmp_path), "--auth-file", auth_file)
    try:
        with pytest.raises(qlab.Unauthenticated, match="no bearer token"):
            coordinator.client(token="").experiments()
        with pytest.raises(qlab.PermissionDenied, match="role viewer, which may not call SubmitExperiment"):
            coordinator.client(token=viewer).submit(SWEEP)
        experiment = coordinator.client(token=submitter).submit(SWEEP)
        assert experiment.job_count == 1
        assert [e["name"] for e in coordinator.client(token=viewer).experiments()] == ["ok"]
    finally:
        coordinator.stop()
