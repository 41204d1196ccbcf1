"""qlab: submit datatype and hardware-aware NN sweeps to a qlab coordinator and read the results.

    import qlab
    client = qlab.Client("127.0.0.1:7070")
    experiment = client.submit("experiments/datatype-sweep.yaml").wait()
    frame = experiment.to_pandas()
    front = experiment.pareto("bits_per_weight", "mse")

See clients/python/README.md. The gRPC stubs under qlab.v1 are generated from proto/ by
generate_stubs.py (pip install, scripts/setup and the CMake build run it).
"""
try:
    from .v1 import job_service_pb2 as _probe  # noqa: F401
except ImportError as e:  # the stubs are generated, never committed
    raise ImportError("qlab's gRPC stubs are missing: run `python3 clients/python/generate_stubs.py`"
                      " (or scripts/setup), or install with `pip install clients/python`") from e

from .client import Client, Experiment, state_name
from .errors import (AlreadyExists, DeadlineExceeded, FailedPrecondition, InvalidArgument,
                     InvalidSweep, NotFound, PermissionDenied, QlabError, ResourceExhausted,
                     Timeout, Unauthenticated, Unavailable)
from .rows import JoinedRows, Rows
from .sweep import load_sweep, sweep_text_to_dict

__version__ = "0.1.0"
__all__ = ["Client", "Experiment", "JoinedRows", "Rows", "QlabError", "InvalidArgument",
           "InvalidSweep", "NotFound", "AlreadyExists", "FailedPrecondition", "ResourceExhausted",
           "Unauthenticated", "PermissionDenied", "Unavailable", "DeadlineExceeded", "Timeout",
           "load_sweep", "sweep_text_to_dict", "state_name"]
