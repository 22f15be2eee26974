"""Request bodies of the spec as strict pydantic models (a string is not a number, a number is not a boolean).

Responses are built as plain dicts in `api.views`, field for field as the spec names them. FastAPI's validation errors
become 400 INVALID_REQUEST with `param` set to the dotted field path (see `api.main`).
"""

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    model_validator,
)

from api.filenames import check_file_name
from lasso import LIMITS, PROMPT_MAX_CHARS, SeparationOptions

Number = StrictFloat | StrictInt
MAX_SPANS = 100  # spans per request: each is checked and turned into a mask, so their count is bounded


def _option(name: str) -> Any:
    """The strict pydantic type of one separation option, from its one definition (lasso.options.LIMITS)."""
    limit = LIMITS[name]
    if limit.choices:
        return Literal[limit.choices]
    if type(limit.default) is bool:
        return StrictBool
    bounds = {"gt" if limit.exclusive_minimum else "ge": limit.minimum, "le": limit.maximum}
    return Annotated[StrictInt if type(limit.default) is int else Number, Field(**bounds)]


def _no_nulls(data: Any, names: tuple[str, ...]) -> None:
    """Optional fields of the spec may be absent but never null."""
    if isinstance(data, dict):
        for name in names:
            if name in data and data[name] is None:
                raise ValueError(f"{name} must not be null")


class CreateFileRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    file_name: Annotated[StrictStr, Field(min_length=1, max_length=255), AfterValidator(check_file_name)]
    content_type: Annotated[StrictStr, Field(min_length=1, max_length=127)]
    file_size: Annotated[StrictInt, Field(ge=1, le=524_288_000)]
    purpose: Literal["audio.separate.input"]


class AudioSpan(BaseModel):
    model_config = ConfigDict(extra="ignore")

    start: Annotated[Number, Field(ge=0)]
    end: Annotated[Number, Field(ge=0)]
    include: StrictBool = True


class AudioSeparateInput(BaseModel):
    model_config = ConfigDict(extra="ignore")

    audio_url: Annotated[StrictStr, Field(min_length=1, max_length=4096)] | None = None
    file_id: Annotated[StrictStr, Field(min_length=1, max_length=64)] | None = None
    prompt: Annotated[StrictStr, Field(min_length=1, max_length=PROMPT_MAX_CHARS)]
    predict_spans: _option("predict_spans") = LIMITS["predict_spans"].default
    reranking_candidates: _option("reranking_candidates") = LIMITS["reranking_candidates"].default
    acceleration: _option("acceleration") = LIMITS["acceleration"].default
    max_chunk_duration: _option("max_chunk_duration") = LIMITS["max_chunk_duration"].default
    chunk_overlap: _option("chunk_overlap") = LIMITS["chunk_overlap"].default
    output_format: _option("output_format") = LIMITS["output_format"].default
    spans: Annotated[list[AudioSpan], Field(max_length=MAX_SPANS)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_source(cls, data: Any) -> Any:
        # the spec's oneOf: audio_url XOR file_id (checked on the raw keys, before defaults)
        _no_nulls(data, ("audio_url", "file_id", "spans"))
        if isinstance(data, dict) and ("audio_url" in data) == ("file_id" in data):
            raise ValueError("give exactly one of audio_url and file_id")
        return data

    def options(self) -> SeparationOptions:
        """The separation options, checked by the library (OptionError: a span that ends before it starts)."""
        fields = self.model_dump(include=set(SeparationOptions.__dataclass_fields__) - {"spans"})
        return SeparationOptions(spans=tuple(s.model_dump() for s in self.spans or ()), **fields)

    def job_params(self) -> dict[str, Any]:
        """What a job stores: the prompt, the output format and the options (`SeparationOptions.to_dict`); the
        worker turns them back into a `SeparationOptions` (api.worker.actors)."""
        return {"prompt": self.prompt, "output_format": self.output_format, "options": self.options().to_dict()}


class SubmitAudioSeparateRequest(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    input: AudioSeparateInput
    webhook_url: Annotated[StrictStr, Field(min_length=1, max_length=2048)] | None = Field(None, alias="webhookUrl")
    webhook_secret: Annotated[StrictStr, Field(min_length=16, max_length=256)] | None = Field(None,
                                                                                         alias="webhookSecret")
    metadata: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _nulls(cls, data: Any) -> Any:
        _no_nulls(data, ("webhookUrl", "webhookSecret", "metadata"))
        return data
