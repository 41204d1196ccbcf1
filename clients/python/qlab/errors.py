"""Exceptions raised by the client: one class per gRPC status a caller may want to catch.

Every exception carries the status code (`code`, a `grpc.StatusCode`) and the server's own
message (`message`), which names the offending field for bad input.
"""
import grpc


class QlabError(Exception):
    """A call to the coordinator failed."""

    code = grpc.StatusCode.UNKNOWN

    def __init__(self, message, code=None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self):
        return f"{self.code.name}: {self.message}"


class InvalidArgument(QlabError):
    """Bad input: the message names the field (gRPC INVALID_ARGUMENT)."""
    code = grpc.StatusCode.INVALID_ARGUMENT


class InvalidSweep(InvalidArgument):
    """A sweep the coordinator refused, or a sweep file that cannot be read as YAML or JSON."""


class NotFound(QlabError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(QlabError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(QlabError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class ResourceExhausted(QlabError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Unauthenticated(QlabError):
    """No token, or a token the server does not know (DESIGN §10 auth)."""
    code = grpc.StatusCode.UNAUTHENTICATED


class PermissionDenied(QlabError):
    """The token's role may not make this call."""
    code = grpc.StatusCode.PERMISSION_DENIED


class Unavailable(QlabError):
    """The coordinator cannot be reached, or is starting or shutting down."""
    code = grpc.StatusCode.UNAVAILABLE


class DeadlineExceeded(QlabError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Timeout(QlabError):
    """`Experiment.wait(timeout=...)` ran out before every job ended."""
    code = grpc.StatusCode.DEADLINE_EXCEEDED


_BY_CODE = {cls.code: cls for cls in (InvalidArgument, NotFound, AlreadyExists,
                                      FailedPrecondition, ResourceExhausted, Unauthenticated,
                                      PermissionDenied, Unavailable, DeadlineExceeded)}


def from_rpc_error(error, invalid_argument=InvalidArgument):
    """The exception for a grpc.RpcError; `invalid_argument` picks the class for bad input."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = error.details() if hasattr(error, "details") else str(error)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return invalid_argument(message or "invalid argument")
    cls = _BY_CODE.get(code, QlabError)
    return cls(message or code.name.lower(), code)
