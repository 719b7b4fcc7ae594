"""Typed domain errors and their one mapping to gRPC status (with field violations)."""

from dataclasses import dataclass

import grpc
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status


@dataclass(frozen=True)
class FieldViolation:
    """One invalid input field: a dotted path and what is wrong with it."""

    field: str
    message: str


class DomainError(Exception):
    """Base of errors the domain raises on purpose; each maps to one gRPC code."""

    code: grpc.StatusCode = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, message: str, violations: list[FieldViolation] | None = None) -> None:
        super().__init__(message)
        self.violations = violations or []


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class Conflict(DomainError):
    """A concurrent change won: the caller's version is stale."""

    code = grpc.StatusCode.ABORTED


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


def to_status(error: DomainError) -> grpc.Status:
    """The rich gRPC status for a domain error, field violations in a BadRequest detail."""
    status = status_pb2.Status(code=_CODES[error.code], message=error.message)
    if isinstance(error, InvalidArgument) and error.violations:
        detail = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=v.field, description=v.message)
                for v in error.violations
            ]
        )
        status.details.add().Pack(detail)
    return rpc_status.to_status(status)


def violations_of(error: grpc.RpcError) -> list[FieldViolation]:
    """Field violations carried in a received error's BadRequest detail, if any."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found: list[FieldViolation] = []
    if status is None:
        return found
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            found += [FieldViolation(v.field, v.description) for v in bad.field_violations]
    return found


_CODES = {
    grpc.StatusCode.NOT_FOUND: code_pb2.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: code_pb2.ALREADY_EXISTS,
    grpc.StatusCode.INVALID_ARGUMENT: code_pb2.INVALID_ARGUMENT,
    grpc.StatusCode.FAILED_PRECONDITION: code_pb2.FAILED_PRECONDITION,
    grpc.StatusCode.ABORTED: code_pb2.ABORTED,
    grpc.StatusCode.PERMISSION_DENIED: code_pb2.PERMISSION_DENIED,
    grpc.StatusCode.UNAUTHENTICATED: code_pb2.UNAUTHENTICATED,
    grpc.StatusCode.INTERNAL: code_pb2.INTERNAL,
    grpc.StatusCode.UNAVAILABLE: code_pb2.UNAVAILABLE,
    grpc.StatusCode.DATA_LOSS: code_pb2.DATA_LOSS,
}
