"""A real qlab-server and qlab-worker on loopback for the client's tests.

Binaries come from QLAB_SERVER_BIN / QLAB_WORKER_BIN / QLAB_CLI_BIN (ctest sets them), else
from ./build. Every process is killed when its fixture ends; logs stay in pytest's tmp dir.
"""
import json
import os
import signal
import subprocess
import sys
import time

import pytest

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "clients", "python"))

import qlab  # noqa: E402


def _binary(env_name, relative):
    path = os.environ.get(env_name) or os.path.join(REPO, "build", relative)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is not built (set {env_name} or run scripts/build)")
    return path


class Coordinator:
    """qlab-server on free loopback ports with its own SQLite file, plus optional workers."""

    def __init__(self, directory, *flags):
        self.directory = directory
        self.processes = []
        port_file = os.path.join(directory, "ports.json")
        self._start([_binary("QLAB_SERVER_BIN", "server/qlab-server"), "--db", os.path.join(directory, "qlab.db"),
                     "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                     "--port-file", port_file, *flags], "server.log")
        deadline = time.monotonic() + 30
        while not os.path.exists(port_file):
            if self.processes[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"qlab-server did not start; see {directory}/server.log")
            time.sleep(0.02)
        time.sleep(0.05)  # the file is written whole, but give the writer a moment to close it
        with open(port_file) as f:
            ports = json.load(f)
        self.address = ports["grpc"]
        self.http_address = ports["http"]

    def _start(self, argv, log_name):
        log = open(os.path.join(self.directory, log_name), "wb")
        self.processes.append(subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                               stdin=subprocess.DEVNULL))

    def start_worker(self, *flags):
        self._start([_binary("QLAB_WORKER_BIN", "worker/qlab-worker"), "--coordinator", self.address, *flags],
                    f"worker-{len(self.processes)}.log")

    def cli(self, *args):
        """Runs `qlab --server ADDRESS ARGS...`; returns (exit code, stdout, stderr)."""
        done = subprocess.run([_binary("QLAB_CLI_BIN", "cli/qlab"), "--server", self.address, *args], capture_output=True,
                              text=True, timeout=120)
        return done.returncode, done.stdout, done.stderr

    def client(self, **kwargs):
        return qlab.Client(self.address, **kwargs)

    def stop(self):
        for p in reversed(self.processes):
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory):
    """A coordinator with one two-slot CPU worker that has registered."""
    c = Coordinator(str(tmp_path_factory.mktemp("coordinator")))
    c.start_worker("--slots", "2", "--devices", "cpu")
    client = c.client()
    deadline = time.monotonic() + 60
    while not any(w["live"] for w in client.workers()):
        if time.monotonic() > deadline:
            c.stop()
            raise RuntimeError(f"the worker did not register; see {c.directory}")
        time.sleep(0.05)
    yield c
    c.stop()


def create_token(auth_file, role):
    """`qlab-server token create`: appends a token of `role` to auth_file and returns it."""
    done = subprocess.run([_binary("QLAB_SERVER_BIN", "server/qlab-server"), "token", "create",
                           "--auth-file", auth_file, "--role", role, "--name", role + "-py"],
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def idle_coordinator(tmp_path_factory):
    """A coordinator without workers: submitted jobs stay PENDING."""
    c = Coordinator(str(tmp_path_factory.mktemp("idle")))
    yield c
    c.stop()
