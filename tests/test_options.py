"""The separation options are defined once (lasso.options) and that definition is the spec's AudioSeparateInput."""

import json
from dataclasses import fields

import pytest

from conftest import REPO
from lasso import LIMITS, PROMPT_MAX_CHARS, OptionError, SeparationOptions
from lasso.cli import get_parser, options_from_args
from lasso.inference import PRESETS

SPEC = json.loads((REPO.parent / "shared" / "openapi.json").read_text())
SCHEMAS = SPEC["components"]["schemas"]
INPUT = SCHEMAS["AudioSeparateInput"]["allOf"][0]["properties"]
SOURCES_AND_PROMPT = {"audio_url", "file_id", "prompt", "spans"}
JSON_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string"}


def test_every_option_of_the_spec_is_defined_once_with_its_limits():
    assert set(INPUT) - SOURCES_AND_PROMPT == set(LIMITS)
    for name, limit in LIMITS.items():
        spec = INPUT[name]
        assert spec["type"] == JSON_TYPES[type(limit.default)], name
        assert spec["default"] == limit.default, name
        assert spec.get("enum", []) == list(limit.choices), name
        low = "exclusiveMinimum" if limit.exclusive_minimum else "minimum"
        assert spec.get(low) == limit.minimum and spec.get("maximum") == limit.maximum, name
        assert {"minimum", "exclusiveMinimum"} & set(spec) <= {low}, name
    assert INPUT["prompt"]["maxLength"] == PROMPT_MAX_CHARS
    span = SCHEMAS["AudioSpan"]["properties"]
    assert span["start"]["minimum"] == 0 and span["include"]["default"] is True


def test_options_carry_every_option_but_the_file_format():
    assert {f.name for f in fields(SeparationOptions)} == set(LIMITS) - {"output_format"} | {"spans"}
    assert tuple(PRESETS) == LIMITS["acceleration"].choices


@pytest.mark.parametrize(("name", "bad"), [
    ("reranking_candidates", 9), ("reranking_candidates", 0), ("reranking_candidates", 2.0),
    ("reranking_candidates", True), ("acceleration", "turbo"), ("max_chunk_duration", 0),
    ("max_chunk_duration", 300.5), ("chunk_overlap", -1), ("chunk_overlap", float("nan")), ("predict_spans", 1),
])
def test_a_value_outside_its_limit_is_refused_by_name(name, bad):
    with pytest.raises(OptionError) as info:
        SeparationOptions(**{name: bad})
    assert info.value.param == name


@pytest.mark.parametrize(("span", "param"), [({"start": -1, "end": 2}, "spans.0.start"),
                                             ({"start": 3, "end": 2}, "spans.0.end"),
                                             ({"start": 1, "end": "2"}, "spans.0.end"), ({"end": 2}, "spans.0")])
def test_span_checks_name_the_field(span, param):
    with pytest.raises(OptionError) as info:
        SeparationOptions(spans=[span])
    assert info.value.param == param


def test_options_round_trip_through_json():
    opts = SeparationOptions(spans=[{"start": 1, "end": 2.5, "include": False}], reranking_candidates=3,
                             acceleration="fast", max_chunk_duration=30)
    assert SeparationOptions.from_dict(json.loads(json.dumps(opts.to_dict()))) == opts
    with pytest.raises(OptionError, match="unknown"):
        SeparationOptions.from_dict({"acceleratoin": "fast"})


def test_cli_flags_derive_from_the_definition():
    args = get_parser().parse_args(["separate", "x.wav", "-p", "dog"])
    assert options_from_args(args, None) == SeparationOptions()
    assert args.format == LIMITS["output_format"].default
    with pytest.raises(SystemExit):
        get_parser().parse_args(["separate", "x.wav", "-p", "dog", "--acceleration", "turbo"])
    with pytest.raises(OptionError) as info:
        options_from_args(get_parser().parse_args(["separate", "x.wav", "-p", "dog", "--candidates", "9"]), None)
    assert info.value.param == "reranking_candidates"


def test_api_schema_derives_from_the_definition():
    from pydantic import ValidationError

    from api.schemas import AudioSeparateInput

    body = AudioSeparateInput.model_validate({"file_id": "f", "prompt": "dog"})
    assert body.options() == SeparationOptions()
    for name, limit in LIMITS.items():  # the API accepts a value exactly when the library does
        values = [limit.default, *limit.choices, "other", limit.minimum, limit.maximum, 0, -1, 1.5, True]
        for value in [v for v in values if v is not None]:
            try:
                AudioSeparateInput.model_validate({"file_id": "f", "prompt": "dog", name: value})
                api_ok = True
            except ValidationError:
                api_ok = False
            assert api_ok == limit.accepts(value), (name, value)
    params = AudioSeparateInput.model_validate({"file_id": "f", "prompt": "dog", "acceleration": "fast",
                                                "spans": [{"start": 0, "end": 1}]}).job_params()
    assert SeparationOptions.from_dict(params["options"]) == SeparationOptions(spans=[{"start": 0, "end": 1}],
                                                                               acceleration="fast")
