"""The API contract: the spec file shipped in the package (a copy of ../shared/openapi.json, diffed by a test)."""

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

SPEC_PATH = Path(__file__).with_name("openapi.json")


@lru_cache
def load_spec() -> dict[str, Any]:
    return json.loads(SPEC_PATH.read_text())


def _inline(node: Any, schemas: dict[str, Any]) -> Any:
    """Replace `$ref`s to components with the schemas themselves (the model list is read without the spec)."""
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            return _inline(schemas[ref.rsplit("/", 1)[-1]], schemas)
        return {k: _inline(v, schemas) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, schemas) for v in node]
    return node


def component(name: str) -> dict[str, Any]:
    schemas = load_spec()["components"]["schemas"]
    return copy.deepcopy(_inline(schemas[name], schemas))
