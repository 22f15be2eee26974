"""The options of one separation, defined once: their defaults, limits and checks.

`Separator.separate`, the API's `AudioSeparateInput` (../shared/openapi.json), the `lasso separate` flags and the
workbench's controls all take these options. The API schema, the flags and the controls are derived from `LIMITS`
(tests/test_options.py ties it to the spec), and a `SeparationOptions` value is checked when it is made, so one that
exists is valid and travels from a job to `Separator.separate` as itself. Torch-free: the API imports it.
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from lasso.errors import OptionError

PROMPT_MAX_CHARS = 500


@dataclass(frozen=True)
class Limit:
    """The accepted values of one option: a range (the minimum optionally excluded) or a set of choices."""

    default: Any
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[str, ...] = ()

    def accepts(self, value: Any) -> bool:
        kind = type(self.default)
        if kind is bool:
            return isinstance(value, bool)
        if isinstance(value, bool) or not isinstance(value, int if kind is int else (int, float) if kind is float
                                                     else str):
            return False
        if self.choices:
            return value in self.choices
        if isinstance(value, float) and not math.isfinite(value):
            return False
        low_ok = self.minimum is None or (value > self.minimum if self.exclusive_minimum else value >= self.minimum)
        return low_ok and (self.maximum is None or value <= self.maximum)

    def describe(self) -> str:
        """The accepted values in words, for error messages and help texts."""
        if type(self.default) is bool:
            return "true or false"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        kind = "an integer" if type(self.default) is int else "a number"
        low = f"> {self.minimum:g}" if self.exclusive_minimum else f">= {self.minimum:g}"
        return f"{kind} {low} and <= {self.maximum:g}"


LIMITS: dict[str, Limit] = {
    "predict_spans": Limit(False),
    "reranking_candidates": Limit(1, minimum=1, maximum=8),
    "acceleration": Limit("balanced", choices=("fast", "balanced", "quality")),
    "max_chunk_duration": Limit(60.0, minimum=0, maximum=300, exclusive_minimum=True),  # s
    "chunk_overlap": Limit(5.0, minimum=0, maximum=30),  # s
    "output_format": Limit("wav", choices=("wav", "mp3")),  # of files (lasso.files), not of Separator.separate
}


@dataclass(frozen=True)
class Span:
    """Seconds where the target sounds (include) or does not (exclude)."""

    start: float  # seconds, >= 0
    end: float  # seconds, > start
    include: bool = True

    def to_dict(self) -> dict:
        return asdict(self)


def check_span(span: Span | Mapping, index: int) -> Span:
    """One span on its own (the audio's duration is checked later, by `lasso.spans.parse_spans`); `param` of the
    OptionError is `spans.<index>.<field>`, the dotted path the API reports."""
    try:
        s = span if isinstance(span, Span) else Span(span["start"], span["end"], span.get("include", True))
    except (KeyError, TypeError, AttributeError) as exc:
        raise OptionError(f"spans[{index}] needs start and end (seconds) and optionally include",
                          param=f"spans.{index}") from exc
    for name in ("start", "end"):
        value = getattr(s, name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise OptionError(f"spans[{index}].{name} must be a finite number of seconds, got {value!r}",
                              param=f"spans.{index}.{name}")
    if not isinstance(s.include, bool):
        raise OptionError(f"spans[{index}].include must be true or false", param=f"spans.{index}.include")
    if s.start < 0:
        raise OptionError(f"spans[{index}] starts before 0 s ({s.start})", param=f"spans.{index}.start")
    if s.end <= s.start:
        raise OptionError(f"spans[{index}]: a span's end must be after its start, got {s.start}..{s.end}",
                          param=f"spans.{index}.end")
    return Span(float(s.start), float(s.end), s.include)


@dataclass(frozen=True)
class SeparationOptions:
    """How to separate (everything but the audio and the prompt); invalid values raise OptionError on creation."""

    spans: tuple[Span, ...] = ()
    predict_spans: bool = LIMITS["predict_spans"].default
    reranking_candidates: int = LIMITS["reranking_candidates"].default
    acceleration: str = LIMITS["acceleration"].default
    max_chunk_duration: float = LIMITS["max_chunk_duration"].default
    chunk_overlap: float = LIMITS["chunk_overlap"].default

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name in LIMITS and not LIMITS[f.name].accepts(getattr(self, f.name)):
                raise OptionError(f"{f.name} must be {LIMITS[f.name].describe()}, got {getattr(self, f.name)!r}",
                                  param=f.name)
        spans = self.spans if self.spans is not None else ()
        if isinstance(spans, str | bytes | Mapping) or not isinstance(spans, Iterable):
            raise OptionError("spans must be a list of {start, end, include}", param="spans")
        object.__setattr__(self, "spans", tuple(check_span(s, i) for i, s in enumerate(spans)))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "SeparationOptions":
        """From JSON-like data (a job's options, a request); unknown keys are an error, not silently dropped."""
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise OptionError(f"unknown option(s) {', '.join(unknown)}", param=unknown[0])
        return cls(**{k: v for k, v in data.items() if not (k == "spans" and v is None)})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready; `from_dict(to_dict())` gives the same options back."""
        return {"spans": [s.to_dict() for s in self.spans],
                **{name: getattr(self, name) for name in LIMITS if hasattr(self, name)}}

    def settings(self) -> dict[str, Any]:
        """The options besides spans, as a separation's result reports them."""
        return {k: v for k, v in self.to_dict().items() if k != "spans"}

    def replace(self, **changes: Any) -> "SeparationOptions":
        """A copy with `changes` (None values ignored: "not given"), checked again."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})
