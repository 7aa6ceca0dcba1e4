"""The REST API (FastAPI/Starlette), following TF Serving's ``api_rest`` document.

Endpoints (``{name}`` a model, ``{version}`` an integer, ``{label}`` a version label)::

    GET  /v1/models/{name}[/versions/{version}|/labels/{label}]            model status
    GET  /v1/models/{name}[/versions/{version}|/labels/{label}]/metadata   signature metadata
    POST /v1/models/{name}[/versions/{version}|/labels/{label}]:predict    predict

Every error is ``{"error": "<message>"}``: 400 for a malformed request, 404 for an unknown
model / version / label / signature / endpoint, 413 for a body over ``max_body_bytes``.
Work that touches TensorFlow or parses large JSON runs on the thread pool, so the event
loop keeps accepting requests while a prediction runs.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any

from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from serving import protos
from serving.errors import InvalidArgument, PayloadTooLarge, ServingError
from serving.molecules import smiles_request
from serving.registry import ModelRegistry, check_name, parse_version
from serving.servable import Servable
from serving.tensors import (
    make_predict_response,
    parse_predict_request,
    signature_name_of,
)

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
_DRAIN_FACTOR = 4  # read (and drop) bodies up to 4x the limit so the client gets the 413

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
ModelName = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=255, description="Model name (no '/' or '..')")
]
Version = Annotated[
    str, Path(pattern=r"^[0-9]+$", max_length=19, description="Integer model version")
]
Label = Annotated[
    str, Path(pattern=NAME_PATTERN, max_length=255, description="Version label from models.config")
]

_ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
_PREDICT_BODY_SCHEMA = {
    "type": "object",
    "description": "TF Serving predict request: exactly one of 'instances' (row format) "
    "or 'inputs' (columnar format). Binary strings as {\"b64\": ...}.",
    "properties": {
        "signature_name": {"type": "string"},
        "instances": {"type": "array", "items": {}},
        "inputs": {},
    },
}
_ERRORS = {
    code: {"description": text, "content": {"application/json": {"schema": _ERROR_SCHEMA}}}
    for code, text in [
        (400, "Malformed request"),
        (404, "Unknown model, version, label or signature"),
    ]
}
_PREDICT_ERRORS = {
    **_ERRORS,
    413: {
        "description": "Request body too large",
        "content": {"application/json": {"schema": _ERROR_SCHEMA}},
    },
}
_PREDICT_OPENAPI = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _PREDICT_BODY_SCHEMA}},
    }
}


def _json_bytes(obj: Any) -> bytes:
    """Compact JSON; NaN / Infinity written as TF Serving writes them."""
    return json.dumps(obj, allow_nan=True, ensure_ascii=False, separators=(",", ":")).encode()


def _parse_json(body: bytes) -> Any:
    if not body.strip():
        raise InvalidArgument("JSON Parse error: The document is empty")
    try:
        return json.loads(body)
    except RecursionError:
        raise InvalidArgument("JSON Parse error: nesting too deep") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
        raise InvalidArgument(f"JSON Parse error: {exc}") from None


def predict_json(servable: Servable, body: bytes, max_decoded_bytes: int | None = None) -> bytes:
    """Run one REST predict request body against ``servable``; return the response body.

    The decoded input tensors together may hold at most ``max_decoded_bytes``.
    """
    doc = _parse_json(body)
    signature = servable.signature(signature_name_of(doc))
    doc = smiles_request(doc, signature.inputs)  # molecule models also take SMILES
    inputs, fmt = parse_predict_request(doc, signature.inputs, max_decoded_bytes)
    outputs = servable.predict(inputs, signature.name)
    return _json_bytes(make_predict_response(outputs, fmt))


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, or :class:`PayloadTooLarge` once it passes ``limit`` bytes."""
    too_large = PayloadTooLarge(f"Request body is larger than the {limit}-byte limit")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit * _DRAIN_FACTOR:
        raise too_large  # too big to drain politely; the connection will be closed
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit * _DRAIN_FACTOR:
                break
            if size <= limit:
                chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidArgument("Client disconnected before sending the whole body") from None
    if size > limit:
        raise too_large
    return b"".join(chunks)


def create_app(registry: ModelRegistry, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> FastAPI:
    """The FastAPI application serving ``registry``'s models."""
    app = FastAPI(
        title="dlsuite model server",
        description="TensorFlow Serving-compatible REST API (see TF Serving's api_rest).",
        version="1",
    )
    _install_error_handlers(app)

    def resolve_version(version: str | None) -> int | None:
        return None if version is None else parse_version(version)

    # ------------------------------------------------------------------ status

    def status(name: str, version: str | None = None, label: str | None = None) -> Response:
        statuses = registry.status(name, resolve_version(version), label)
        return Response(
            _json_bytes(protos.to_json(protos.status_response(statuses))),
            media_type="application/json",
        )

    @app.get("/v1/models/{name}", responses=_ERRORS, summary="Model status (all versions)")
    def get_status(name: ModelName) -> Response:
        return status(name)

    @app.get(
        "/v1/models/{name}/versions/{version}", responses=_ERRORS, summary="Status of one version"
    )
    def get_version_status(name: ModelName, version: Version) -> Response:
        return status(name, version=version)

    @app.get(
        "/v1/models/{name}/labels/{label}",
        responses=_ERRORS,
        summary="Status of the version a label points to",
    )
    def get_label_status(name: ModelName, label: Label) -> Response:
        return status(name, label=label)

    # ------------------------------------------------------------------ metadata

    def metadata(name: str, version: str | None = None, label: str | None = None) -> Response:
        servable = registry.resolve(name, resolve_version(version), label)
        body = protos.metadata_json(protos.metadata_response(servable))
        return Response(_json_bytes(body), media_type="application/json")

    @app.get("/v1/models/{name}/metadata", responses=_ERRORS, summary="Signature metadata")
    def get_metadata(name: ModelName) -> Response:
        return metadata(name)

    @app.get(
        "/v1/models/{name}/versions/{version}/metadata",
        responses=_ERRORS,
        summary="Signature metadata of one version",
    )
    def get_version_metadata(name: ModelName, version: Version) -> Response:
        return metadata(name, version=version)

    @app.get(
        "/v1/models/{name}/labels/{label}/metadata",
        responses=_ERRORS,
        summary="Signature metadata of a labelled version",
    )
    def get_label_metadata(name: ModelName, label: Label) -> Response:
        return metadata(name, label=label)

    # ------------------------------------------------------------------ predict

    async def predict(
        request: Request, name: str, version: str | None = None, label: str | None = None
    ) -> Response:
        body = await _read_body(request, max_body_bytes)
        check_name(name)
        servable = registry.resolve(name, resolve_version(version), label)
        content = await run_in_threadpool(predict_json, servable, body, max_body_bytes)
        return Response(content, media_type="application/json")

    @app.post(
        "/v1/models/{name}:predict",
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_OPENAPI,
        summary="Predict with the latest version",
    )
    async def post_predict(request: Request, name: ModelName) -> Response:
        return await predict(request, name)

    @app.post(
        "/v1/models/{name}/versions/{version}:predict",
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_OPENAPI,
        summary="Predict with one version",
    )
    async def post_version_predict(request: Request, name: ModelName, version: Version) -> Response:
        return await predict(request, name, version=version)

    @app.post(
        "/v1/models/{name}/labels/{label}:predict",
        responses=_PREDICT_ERRORS,
        openapi_extra=_PREDICT_OPENAPI,
        summary="Predict with a labelled version",
    )
    async def post_label_predict(request: Request, name: ModelName, label: Label) -> Response:
        return await predict(request, name, label=label)

    @app.api_route("/v1/models/{rest:path}", methods=["GET", "POST"], include_in_schema=False)
    async def other(request: Request, rest: str) -> Response:
        """Anything else under /v1/models is malformed (400, as TF Serving answers)."""
        verb = rest.rpartition(":")[2] if ":" in rest else ""
        hint = (
            f"the '{verb}' API needs Example-based signatures and real TF Serving; "
            if verb in ("classify", "regress")
            else ""
        )
        raise InvalidArgument(
            f"Malformed request: {request.method} {request.url.path[:200]} ({hint}see "
            "/openapi.json for the endpoints)"
        )

    return app


def _install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"error": ...}`` with the right status."""

    @app.exception_handler(ServingError)
    async def serving_error(request: Request, exc: ServingError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.http_status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code in (404, 405):
            message = (
                f"Malformed request: {request.method} {request.url.path[:200]} "
                f"({exc.detail}; the endpoints are listed at /openapi.json)"
            )
        return JSONResponse(
            {"error": message}, status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err.get('loc', ())[1:]) or 'request'}: {err.get('msg')}"
            for err in exc.errors()[:3]
        )
        return JSONResponse({"error": f"Malformed request: {problems}"}, status_code=400)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Internal error while serving %s %s", request.method, request.url.path)
        return JSONResponse({"error": f"Internal error: {type(exc).__name__}"}, status_code=500)
