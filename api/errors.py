"""One exception tree for the API; `api.main` maps it once to the spec's ErrorResponse.

Every class fixes an HTTP status and a stable `code`; `param` names the offending request field (dotted path such as
`input.prompt`). Handlers raise these and never build error bodies themselves.
"""


class ApiError(Exception):
    """Base of every error the API returns on purpose."""

    status = 500
    code = "INTERNAL_ERROR"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 request_id: str | None = None, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.request_id = request_id
        self.headers = headers
        if code:
            self.code = code

    def body(self) -> dict:
        err = {"code": self.code, "message": self.message}
        if self.param:
            err["param"] = self.param
        if self.request_id:
            err["request_id"] = self.request_id
        return {"error": err}


class InvalidRequest(ApiError):
    """The request body or a parameter is malformed or out of range."""

    status, code = 400, "INVALID_REQUEST"


class InvalidAudioUrl(InvalidRequest):
    """`audio_url` is not a public HTTPS URL (scheme, private/loopback/metadata address, credentials...)."""

    code = "INVALID_AUDIO_URL"


class InvalidWebhookUrl(InvalidRequest):
    """`webhookUrl` is not a public HTTPS URL."""

    code = "INVALID_WEBHOOK_URL"


class UnknownFile(InvalidRequest):
    """`input.file_id` names no file of this API key."""

    code = "FILE_NOT_FOUND"


class Unauthorized(ApiError):
    """No API key, or one that is unknown or revoked."""

    status, code = 401, "INVALID_API_KEY"


class InsufficientCredits(ApiError):
    """The key's audio-seconds balance is used up."""

    status, code = 402, "INSUFFICIENT_CREDITS"


class Forbidden(ApiError):
    """The key lacks the scope the endpoint requires, or a signed URL is invalid or expired."""

    status, code = 403, "INSUFFICIENT_SCOPE"


class NotFound(ApiError):
    """No such resource for this key (another key's resources are reported the same way)."""

    status, code = 404, "NOT_FOUND"


class Conflict(ApiError):
    """The resource is not in the state the operation needs (file not uploaded, result not ready)."""

    status, code = 409, "CONFLICT"


class Gone(ApiError):
    """The resource existed but expired (upload window or retention passed)."""

    status, code = 410, "FILE_EXPIRED"


class PayloadTooLarge(ApiError):
    """The media is larger than the declared size or the service limit."""

    status, code = 413, "FILE_TOO_LARGE"


class QuotaExceeded(ApiError):
    """The key holds as many active jobs, pending uploads, stored bytes or open streams as it may (429)."""

    status, code = 429, "QUOTA_EXCEEDED"


class UnsupportedMediaType(ApiError):
    """Only audio/* and video/* content types are accepted."""

    status, code = 415, "UNSUPPORTED_MEDIA_TYPE"


class UpstreamFetchFailed(ApiError):
    """A remote `audio_url` could not be downloaded (DNS, connection, HTTP error, timeout)."""

    status, code = 502, "AUDIO_URL_FETCH_FAILED"


class ServiceUnavailable(ApiError):
    """The queue or database is unreachable; reported as the spec's 500 with a specific code."""

    status, code = 500, "SERVICE_UNAVAILABLE"
