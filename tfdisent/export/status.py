"""Errors of a TF Serving exchange, shared by the clients and the local server double.

TF Serving reports failures as a canonical status code (gRPC) and, on its REST API, as
``{"error": "<message>"}`` with the HTTP status its ``ToHTTPStatusCode`` maps the code to
(tensorflow_serving/model_servers/http_rest_api_handler). Keeping the code *name* as a string
lets this module, and the REST client that uses it, run without importing grpc or TensorFlow.
"""

from __future__ import annotations

# Canonical status code -> HTTP status, as TF Serving's REST layer maps them.
HTTP_STATUS = {
    "OK": 200,
    "CANCELLED": 499,
    "UNKNOWN": 500,
    "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504,
    "NOT_FOUND": 404,
    "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403,
    "RESOURCE_EXHAUSTED": 429,
    "FAILED_PRECONDITION": 400,
    "ABORTED": 409,
    "OUT_OF_RANGE": 400,
    "UNIMPLEMENTED": 501,
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "DATA_LOSS": 500,
    "UNAUTHENTICATED": 401,
}


class ServingError(Exception):
    """A request failed; ``code`` is the canonical status name (e.g. ``"INVALID_ARGUMENT"``)."""

    def __init__(self, code: str, message: str):
        if code not in HTTP_STATUS:
            raise ValueError(f"unknown status code {code!r}")
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]

    @property
    def grpc_code(self):
        import grpc

        return getattr(grpc.StatusCode, self.code)


def code_from_http_status(status: int) -> str:
    """The most likely canonical code behind an HTTP status (for REST clients)."""
    for code, http in HTTP_STATUS.items():
        if http == status and code not in ("FAILED_PRECONDITION", "OUT_OF_RANGE", "DATA_LOSS", "ABORTED"):
            return code
    return "UNKNOWN"
