"""Model backends behind one small interface.

`TransformersModel` and `OpenAICompatibleModel` are imported lazily, so `import agentkit.models`
does not import torch, transformers or httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentkit.models._base import Model, ModelRequest, ModelResponse
from agentkit.models._settings import DecodingSettings
from agentkit.models.scripted import ScriptedModel
from agentkit.models.shaping import CallShaping

if TYPE_CHECKING:
    from agentkit.models.openai_compat import OpenAICompatibleModel
    from agentkit.models.transformers import TransformersModel

__all__ = [
    "CallShaping",
    "DecodingSettings",
    "Model",
    "ModelRequest",
    "ModelResponse",
    "OpenAICompatibleModel",
    "ScriptedModel",
    "TransformersModel",
]

_LAZY = {
    "TransformersModel": "agentkit.models.transformers",
    "OpenAICompatibleModel": "agentkit.models.openai_compat",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'agentkit.models' has no attribute {name!r}")
