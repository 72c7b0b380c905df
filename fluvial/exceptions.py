"""The one error hierarchy of fluvial.

    MlflowException (alias FluvialError)          error_code -> http_status
     +-- InvalidParameterValue      INVALID_PARAMETER_VALUE  400
     +-- BadRequest                 BAD_REQUEST              400
     +-- ResourceAlreadyExists      RESOURCE_ALREADY_EXISTS  400
     +-- ResourceDoesNotExist       RESOURCE_DOES_NOT_EXIST  404
     +-- InvalidState               INVALID_STATE            500
     +-- ... one subclass per ErrorCode name of MLflow's wire protocol
     +-- RestException              raised by the REST client; rebuilt from the JSON error body

Callers catch types. ``MlflowException(message, error_code="X")`` returns the subclass for "X", so code
written for MLflow that passes an error code still gets the typed exception. Only ``server/adapter.py``
and ``cli/`` turn these into HTTP responses or exit codes.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

# ErrorCode name -> number, as in MLflow's databricks.proto.
ERROR_CODES: dict[str, int] = {
    "INTERNAL_ERROR": 1,
    "TEMPORARILY_UNAVAILABLE": 2,
    "IO_ERROR": 3,
    "BAD_REQUEST": 4,
    "SERVICE_UNDER_MAINTENANCE": 5,
    "WORKSPACE_TEMPORARILY_UNAVAILABLE": 6,
    "DEADLINE_EXCEEDED": 7,
    "CANCELLED": 8,
    "RESOURCE_EXHAUSTED": 9,
    "ABORTED": 10,
    "NOT_FOUND": 11,
    "ALREADY_EXISTS": 12,
    "UNAUTHENTICATED": 13,
    "INVALID_PARAMETER_VALUE": 1000,
    "ENDPOINT_NOT_FOUND": 1001,
    "MALFORMED_REQUEST": 1002,
    "INVALID_STATE": 1003,
    "PERMISSION_DENIED": 1004,
    "FEATURE_DISABLED": 1005,
    "CUSTOMER_UNAUTHORIZED": 1006,
    "REQUEST_LIMIT_EXCEEDED": 1007,
    "RESOURCE_CONFLICT": 1008,
    "UNPARSEABLE_HTTP_ERROR": 1009,
    "NOT_IMPLEMENTED": 1010,
    "DATA_LOSS": 1011,
    "INVALID_STATE_TRANSITION": 2001,
    "COULD_NOT_ACQUIRE_LOCK": 2002,
    "RESOURCE_ALREADY_EXISTS": 3001,
    "RESOURCE_DOES_NOT_EXIST": 3002,
    "QUOTA_EXCEEDED": 4001,
    "MAX_BLOCK_SIZE_EXCEEDED": 4002,
    "MAX_READ_SIZE_EXCEEDED": 4003,
    "PARTIAL_DELETE": 4004,
    "MAX_LIST_SIZE_EXCEEDED": 4005,
    "DRY_RUN_FAILED": 5001,
    "RESOURCE_LIMIT_EXCEEDED": 5002,
    "DIRECTORY_NOT_EMPTY": 6001,
    "DIRECTORY_PROTECTED": 6002,
    "MAX_NOTEBOOK_SIZE_EXCEEDED": 6003,
    "MAX_CHILD_NODE_SIZE_EXCEEDED": 6004,
    "SEARCH_QUERY_TOO_LONG": 6100,
    "SEARCH_QUERY_TOO_SHORT": 6101,
}

# ErrorCode name -> HTTP status the server answers with (MLflow 2.22.5's table; others are 500).
HTTP_STATUS: dict[str, int] = {
    "INVALID_PARAMETER_VALUE": 400,
    "BAD_REQUEST": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "MALFORMED_REQUEST": 400,
    "CUSTOMER_UNAUTHORIZED": 401,
    "UNAUTHENTICATED": 401,
    "PERMISSION_DENIED": 403,
    "RESOURCE_DOES_NOT_EXIST": 404,
    "NOT_FOUND": 404,
    "ENDPOINT_NOT_FOUND": 404,
    "ABORTED": 409,
    "RESOURCE_CONFLICT": 409,
    "ALREADY_EXISTS": 409,
    "REQUEST_LIMIT_EXCEEDED": 429,
    "RESOURCE_EXHAUSTED": 429,
    "CANCELLED": 499,
    "INTERNAL_ERROR": 500,
    "INVALID_STATE": 500,
    "DATA_LOSS": 500,
    "NOT_IMPLEMENTED": 501,
    "TEMPORARILY_UNAVAILABLE": 503,
    "DEADLINE_EXCEEDED": 504,
}

# HTTP status -> ErrorCode name, for error responses that carry no JSON body.
STATUS_TO_CODE: dict[int, str] = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

_BY_CODE: dict[str, type[MlflowException]] = {}


def _normalize_code(error_code: Any) -> str:
    if isinstance(error_code, int) and not isinstance(error_code, bool):
        for name, number in ERROR_CODES.items():
            if number == error_code:
                return name
        return "INTERNAL_ERROR"
    if isinstance(error_code, str) and error_code in ERROR_CODES:
        return error_code
    return "INTERNAL_ERROR"


class MlflowException(Exception):
    """Base of every fluvial error. ``error_code`` is the wire name, e.g. ``"RESOURCE_DOES_NOT_EXIST"``."""

    default_code: ClassVar[str] = "INTERNAL_ERROR"

    def __new__(cls, message: Any = "", error_code: Any = None, **kwargs: Any) -> MlflowException:
        # MlflowException("...", error_code=X) yields the typed subclass for X.
        if cls is MlflowException and error_code is not None:
            sub = _BY_CODE.get(_normalize_code(error_code))
            if sub is not None:
                return super().__new__(sub)
        return super().__new__(cls)

    def __init__(self, message: Any = "", error_code: Any = None, **kwargs: Any) -> None:
        code = self.default_code if error_code is None else _normalize_code(error_code)
        self.error_code: str = code
        self.message: str = str(message)
        self.json_kwargs: dict[str, Any] = kwargs
        super().__init__(self.message)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.__dict__.get("default_code")
        if code and code not in _BY_CODE:
            _BY_CODE[code] = cls

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.error_code, self.json_kwargs))

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.error_code, 500)

    def get_http_status_code(self) -> int:
        return self.http_status

    def serialize_as_json(self) -> str:
        return json.dumps({"error_code": self.error_code, "message": self.message, **self.json_kwargs})

    @classmethod
    def invalid_parameter_value(cls, message: str, **kwargs: Any) -> MlflowException:
        return InvalidParameterValue(message, **kwargs)


def _rebuild(cls: type[MlflowException], message: str, code: str, kwargs: dict[str, Any]) -> MlflowException:
    exc = cls.__new__(cls, message, code)
    MlflowException.__init__(exc, message, code, **kwargs)
    return exc


FluvialError = MlflowException


class InternalError(MlflowException):
    """Error code INTERNAL_ERROR."""

    default_code = "INTERNAL_ERROR"


class TemporarilyUnavailable(MlflowException):
    """Error code TEMPORARILY_UNAVAILABLE."""

    default_code = "TEMPORARILY_UNAVAILABLE"


class IoError(MlflowException):
    """Error code IO_ERROR."""

    default_code = "IO_ERROR"


class BadRequest(MlflowException):
    """Error code BAD_REQUEST."""

    default_code = "BAD_REQUEST"


class ServiceUnderMaintenance(MlflowException):
    """Error code SERVICE_UNDER_MAINTENANCE."""

    default_code = "SERVICE_UNDER_MAINTENANCE"


class WorkspaceTemporarilyUnavailable(MlflowException):
    """Error code WORKSPACE_TEMPORARILY_UNAVAILABLE."""

    default_code = "WORKSPACE_TEMPORARILY_UNAVAILABLE"


class DeadlineExceeded(MlflowException):
    """Error code DEADLINE_EXCEEDED."""

    default_code = "DEADLINE_EXCEEDED"


class Cancelled(MlflowException):
    """Error code CANCELLED."""

    default_code = "CANCELLED"


class ResourceExhausted(MlflowException):
    """Error code RESOURCE_EXHAUSTED."""

    default_code = "RESOURCE_EXHAUSTED"


class Aborted(MlflowException):
    """Error code ABORTED."""

    default_code = "ABORTED"


class NotFound(MlflowException):
    """Error code NOT_FOUND."""

    default_code = "NOT_FOUND"


class AlreadyExists(MlflowException):
    """Error code ALREADY_EXISTS."""

    default_code = "ALREADY_EXISTS"


class Unauthenticated(MlflowException):
    """Error code UNAUTHENTICATED."""

    default_code = "UNAUTHENTICATED"


class InvalidParameterValue(MlflowException):
    """Error code INVALID_PARAMETER_VALUE."""

    default_code = "INVALID_PARAMETER_VALUE"


class EndpointNotFound(MlflowException):
    """Error code ENDPOINT_NOT_FOUND."""

    default_code = "ENDPOINT_NOT_FOUND"


class MalformedRequest(MlflowException):
    """Error code MALFORMED_REQUEST."""

    default_code = "MALFORMED_REQUEST"


class InvalidState(MlflowException):
    """Error code INVALID_STATE."""

    default_code = "INVALID_STATE"


class PermissionDenied(MlflowException):
    """Error code PERMISSION_DENIED."""

    default_code = "PERMISSION_DENIED"


class FeatureDisabled(MlflowException):
    """Error code FEATURE_DISABLED."""

    default_code = "FEATURE_DISABLED"


class CustomerUnauthorized(MlflowException):
    """Error code CUSTOMER_UNAUTHORIZED."""

    default_code = "CUSTOMER_UNAUTHORIZED"


class RequestLimitExceeded(MlflowException):
    """Error code REQUEST_LIMIT_EXCEEDED."""

    default_code = "REQUEST_LIMIT_EXCEEDED"


class ResourceConflict(MlflowException):
    """Error code RESOURCE_CONFLICT."""

    default_code = "RESOURCE_CONFLICT"


class UnparseableHttpError(MlflowException):
    """Error code UNPARSEABLE_HTTP_ERROR."""

    default_code = "UNPARSEABLE_HTTP_ERROR"


class NotImplementedFeature(MlflowException):
    """Error code NOT_IMPLEMENTED."""

    default_code = "NOT_IMPLEMENTED"


class DataLoss(MlflowException):
    """Error code DATA_LOSS."""

    default_code = "DATA_LOSS"


class InvalidStateTransition(MlflowException):
    """Error code INVALID_STATE_TRANSITION."""

    default_code = "INVALID_STATE_TRANSITION"


class CouldNotAcquireLock(MlflowException):
    """Error code COULD_NOT_ACQUIRE_LOCK."""

    default_code = "COULD_NOT_ACQUIRE_LOCK"


class ResourceAlreadyExists(MlflowException):
    """Error code RESOURCE_ALREADY_EXISTS."""

    default_code = "RESOURCE_ALREADY_EXISTS"


class ResourceDoesNotExist(MlflowException):
    """Error code RESOURCE_DOES_NOT_EXIST."""

    default_code = "RESOURCE_DOES_NOT_EXIST"


class QuotaExceeded(MlflowException):
    """Error code QUOTA_EXCEEDED."""

    default_code = "QUOTA_EXCEEDED"


class MaxBlockSizeExceeded(MlflowException):
    """Error code MAX_BLOCK_SIZE_EXCEEDED."""

    default_code = "MAX_BLOCK_SIZE_EXCEEDED"


class MaxReadSizeExceeded(MlflowException):
    """Error code MAX_READ_SIZE_EXCEEDED."""

    default_code = "MAX_READ_SIZE_EXCEEDED"


class PartialDelete(MlflowException):
    """Error code PARTIAL_DELETE."""

    default_code = "PARTIAL_DELETE"


class MaxListSizeExceeded(MlflowException):
    """Error code MAX_LIST_SIZE_EXCEEDED."""

    default_code = "MAX_LIST_SIZE_EXCEEDED"


class DryRunFailed(MlflowException):
    """Error code DRY_RUN_FAILED."""

    default_code = "DRY_RUN_FAILED"


class ResourceLimitExceeded(MlflowException):
    """Error code RESOURCE_LIMIT_EXCEEDED."""

    default_code = "RESOURCE_LIMIT_EXCEEDED"


class DirectoryNotEmpty(MlflowException):
    """Error code DIRECTORY_NOT_EMPTY."""

    default_code = "DIRECTORY_NOT_EMPTY"


class DirectoryProtected(MlflowException):
    """Error code DIRECTORY_PROTECTED."""

    default_code = "DIRECTORY_PROTECTED"


class MaxNotebookSizeExceeded(MlflowException):
    """Error code MAX_NOTEBOOK_SIZE_EXCEEDED."""

    default_code = "MAX_NOTEBOOK_SIZE_EXCEEDED"


class MaxChildNodeSizeExceeded(MlflowException):
    """Error code MAX_CHILD_NODE_SIZE_EXCEEDED."""

    default_code = "MAX_CHILD_NODE_SIZE_EXCEEDED"


class SearchQueryTooLong(MlflowException):
    """Error code SEARCH_QUERY_TOO_LONG."""

    default_code = "SEARCH_QUERY_TOO_LONG"


class SearchQueryTooShort(MlflowException):
    """Error code SEARCH_QUERY_TOO_SHORT."""

    default_code = "SEARCH_QUERY_TOO_SHORT"


_REST_CLASSES: dict[str, type] = {}


class RestException(MlflowException):
    """Raised by the REST client for a non-200 answer with a JSON error body.

    The instance is also of the typed subclass for its code: ``except ResourceDoesNotExist`` and
    ``except RestException`` both catch a 404 from the server."""

    def __new__(cls, json_body: dict[str, Any], *args: Any, **kwargs: Any) -> RestException:
        code = _normalize_code(json_body.get("error_code", "INTERNAL_ERROR") if isinstance(json_body, dict) else None)
        combined = _REST_CLASSES.get(code)
        if combined is None:
            typed = _BY_CODE.get(code, MlflowException)
            combined = type("RestException", (RestException, typed), {"__module__": __name__})
            _REST_CLASSES[code] = combined
        return Exception.__new__(combined)  # type: ignore[return-value]

    def __init__(self, json_body: dict[str, Any]) -> None:
        code = _normalize_code(json_body.get("error_code", "INTERNAL_ERROR"))
        message = json_body.get("message")
        text = f"{code}: {message}" if message else f"Response: {json_body}"
        super().__init__(text, error_code=code)
        self.json = json_body

    def __reduce__(self) -> tuple[Any, ...]:
        return (RestException, (self.json,))


class ExecutionException(MlflowException):
    """A project could not be run: a bad MLproject file or parameter, a failed fetch or environment
    build, or (for synchronous runs) a command that exited with a non-zero status."""


class MissingDependency(MlflowException, ImportError):
    """An optional package is not installed; the message names the extra to install."""

    default_code = "INTERNAL_ERROR"


def exception_for(error_code: str, message: str) -> MlflowException:
    """The typed exception for a wire error code (used by the REST client and tests)."""
    return _BY_CODE.get(_normalize_code(error_code), MlflowException)(message, error_code=error_code)
