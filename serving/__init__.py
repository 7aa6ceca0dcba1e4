"""TF-Serving-compatible serving: embedded server, REST / gRPC clients, models.config.

Public API (imported lazily, so ``from serving import Client`` stays light)::

    Client(url).predict(model, inputs, version=None, signature=None)   # REST
    GrpcClient(target).predict(...)                                    # gRPC, official stubs
    ModelServer(model_base, rest_port=8501, grpc_port=8500).start()    # embedded server
    write_models_config(path, models) / read_models_config(path)       # TF Serving models.config
    ServingError, InvalidArgument, NotFound, PayloadTooLarge           # errors (both sides)

See docs/serving.md for the production setup with TensorFlow Serving.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Client": "serving.client",
    "GrpcClient": "serving.client",
    "ModelServer": "serving.server",
    "ServerStartError": "serving.server",
    "ModelEntry": "serving.models_config",
    "VersionPolicy": "serving.models_config",
    "write_models_config": "serving.models_config",
    "read_models_config": "serving.models_config",
    "ServingError": "serving.errors",
    "InvalidArgument": "serving.errors",
    "NotFound": "serving.errors",
    "PayloadTooLarge": "serving.errors",
    "Unavailable": "serving.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'serving' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return __all__
