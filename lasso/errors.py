"""One exception tree for the library: callers catch `LassoError` and show `code` + message to the user.

Every error carries a stable machine-readable `code` so that the API, the app and the CLI can map it once
(to an HTTP status, a readable message, an exit code) without parsing messages.
"""


class LassoError(Exception):
    """Base of every error the library raises on purpose."""

    code = "LASSO_ERROR"

    def __init__(self, message: str, *, param: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.param = param  # the offending option, when there is one (mirrors the API's `param`)


class AudioError(LassoError):
    """The input audio could not be used (undecodable, empty, no audio stream, silent)."""

    code = "INVALID_AUDIO"


class UnsupportedFormatError(AudioError):
    """The file type is not one we decode or encode."""

    code = "UNSUPPORTED_FORMAT"


class TooLongError(AudioError):
    """The input is longer than the configured maximum duration."""

    code = "AUDIO_TOO_LONG"


class PromptError(LassoError):
    """The text prompt is missing or unusable."""

    code = "INVALID_PROMPT"


class OptionError(LassoError):
    """An inference option (spans, candidates, chunking, acceleration) is invalid."""

    code = "INVALID_OPTION"


class ModelLoadError(LassoError):
    """A checkpoint or text encoder could not be loaded."""

    code = "MODEL_LOAD_FAILED"
