"""The registry of problem types: every error the API answers is one of these (RFC 9457).

A problem's `type` is `/problems/<name>`, resolved against the API's address; the gateway serves
each type's page there, and docs/problems.md lists them. Names are stable: clients may branch on
them. A new kind of error gets a new entry here, never an ad-hoc `type`.
"""

from dataclasses import dataclass

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class ProblemType:
    """One kind of error: its stable name, HTTP status, title, and what a client should do."""

    name: str
    status: int
    title: str
    description: str

    @property
    def uri(self) -> str:
        """The problem document's `type`."""
        return f"/problems/{self.name}"


_TYPES = (
    ProblemType(
        "malformed-json",
        400,
        "Malformed JSON",
        "The body is not valid JSON (or not UTF-8). Fix the encoding.",
    ),
    ProblemType(
        "unauthenticated",
        401,
        "Unauthenticated",
        "No usable credentials: send `Authorization: Bearer <access token>`; get a new token when it has "
        "expired or was revoked (logout, a role change, a disabled account).",
    ),
    ProblemType(
        "forbidden",
        403,
        "Forbidden",
        "Your roles or scopes lack the operation's permission, or the request filters, sorts, counts or "
        "changes a field group you may not see. `detail` names what is missing. Do not retry.",
    ),
    ProblemType(
        "not-found",
        404,
        "Not found",
        "No such resource within your record scope: a record outside it answers the same, so existence "
        "does not leak.",
    ),
    ProblemType(
        "method-not-allowed",
        405,
        "Method not allowed",
        "The path does not support the method; `Allow` lists those it does.",
    ),
    ProblemType(
        "conflict",
        409,
        "Conflict",
        "The resource is not in a state that allows this (restoring a live customer; a request with the "
        "same Idempotency-Key still in progress). Read it again before deciding.",
    ),
    ProblemType(
        "already-exists",
        409,
        "Already exists",
        "A unique value is taken (a contract number, a custom field key, a tag name): choose another.",
    ),
    ProblemType(
        "version-mismatch",
        412,
        "Precondition failed",
        "`If-Match` names an older version than the current one: someone changed the record since you read "
        "it. Read it again (its ETag), reapply your change, and send it with the new ETag.",
    ),
    ProblemType(
        "body-too-large",
        413,
        "Request body too large",
        "The body is over the gateway's limit (1 MiB by default).",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "Send the body as the operation documents it.",
    ),
    ProblemType(
        "validation-error",
        422,
        "Invalid input",
        "One or more fields are invalid; `errors` lists each as `{field, message}` with a dotted path "
        "such as `contacts.0.phones.0`. Nothing was changed.",
    ),
    ProblemType(
        "precondition-required",
        428,
        "Precondition required",
        "Changes need `If-Match` with the ETag of the version you read, so that a stale edit is refused "
        "instead of overwriting someone else's.",
    ),
    ProblemType(
        "too-many-requests",
        429,
        "Too many requests",
        "A budget is spent (your client's per-minute requests, or login attempts). Wait `Retry-After` "
        "seconds; `RateLimit` and `RateLimit-Policy` describe the budget.",
    ),
    ProblemType(
        "internal-error",
        500,
        "Internal error",
        "A fault of ours, logged with the trace id given in `detail`. Quote it when you report it.",
    ),
    ProblemType(
        "data-integrity",
        500,
        "Stored data failed its integrity check",
        "A stored value did not decrypt (altered, or its key erased). `detail` names the record and field.",
    ),
    ProblemType(
        "service-unavailable",
        503,
        "Service unavailable",
        "A service behind the gateway is down or not ready (or the audit log cannot record the access, "
        "which is never skipped). Retry after `Retry-After` seconds; nothing was done.",
    ),
    ProblemType(
        "upstream-timeout",
        504,
        "Upstream timeout",
        "A service did not answer within its deadline. A change may or may not have been made: read "
        "before retrying, or retry with the same Idempotency-Key.",
    ),
)
TYPES: dict[str, ProblemType] = {p.name: p for p in _TYPES}
# The type an HTTP status gets when nothing more specific is known.
BY_STATUS: dict[int, ProblemType] = {}
for _problem in _TYPES:
    BY_STATUS.setdefault(_problem.status, _problem)
