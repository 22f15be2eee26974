"""The spec itself and the model list."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ModelsReader
from api.spec import component, load_spec
from api.views import MODEL_ID

router = APIRouter(tags=["Models"])


@router.get("/v1/openapi.json", include_in_schema=False)
def get_openapi_spec() -> JSONResponse:
    """The contract clients integrate against, served verbatim (no auth, as the spec says)."""
    return JSONResponse(load_spec())


@router.get("/v1/models")
def list_models(key: ModelsReader) -> dict:
    output = component("QueueResultResponse")["properties"]["data"]
    model = {"id": MODEL_ID, "object": "model",
             "description": "Separate the sound a text prompt describes from audio or video into a target and a "
                            "residual track (target + residual = input).",
             "input": component("AudioSeparateInput"), "output": output}
    return {"object": "list", "data": [model]}
