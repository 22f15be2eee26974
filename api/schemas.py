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

Number = StrictFloat | StrictInt
MAX_SPANS = 100  # spans per request: each is checked and turned into a mask, so their count is bounded


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
    prompt: Annotated[StrictStr, Field(min_length=1, max_length=500)]
    predict_spans: StrictBool = False
    reranking_candidates: Annotated[StrictInt, Field(ge=1, le=8)] = 1
    acceleration: Literal["fast", "balanced", "quality"] = "balanced"
    max_chunk_duration: Annotated[Number, Field(gt=0, le=300)] = 60
    chunk_overlap: Annotated[Number, Field(ge=0, le=30)] = 5
    output_format: Literal["wav", "mp3"] = "wav"
    spans: Annotated[list[AudioSpan], Field(max_length=MAX_SPANS)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _exactly_one_source(cls, data: Any) -> Any:
        # the spec's oneOf: audio_url XOR file_id (checked on the raw keys, before defaults)
        _no_nulls(data, ("audio_url", "file_id", "spans"))
        if isinstance(data, dict) and ("audio_url" in data) == ("file_id" in data):
            raise ValueError("give exactly one of audio_url and file_id")
        return data

    def job_params(self) -> dict[str, Any]:
        """The options the worker passes to `lasso.files.separate_file`."""
        params = self.model_dump(exclude={"audio_url", "file_id"})
        params["spans"] = [s.model_dump() for s in self.spans] if self.spans is not None else None
        return params


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
