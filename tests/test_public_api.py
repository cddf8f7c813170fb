"""The public import paths are a contract (ARCHITECTURE.md, "Public names")."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

import agentkit

PUBLIC_NAMES = {
    "agentkit": ["tool", "Tool", "Toolbox", "Agent", "RunResult", "Message"],
    "agentkit.models": ["ScriptedModel", "TransformersModel", "OpenAICompatibleModel"],
    "agentkit.guardrails": ["Guardrail", "Verdict"],
    "agentkit.events": [
        "TextDelta",
        "ToolCallEvent",
        "ToolResultEvent",
        "RetryEvent",
        "FinalEvent",
    ],
    "agentkit.errors": [
        "AgentkitError",
        "ModelError",
        "MaxStepsExceeded",
        "RetriesExhausted",
        "GuardrailTripped",
        "InputGuardrailTripped",
        "OutputGuardrailTripped",
    ],
}
# Backends that other work provides; until their module exists, their names are skipped.
BACKEND_MODULES = {
    "TransformersModel": "agentkit.models.transformers",
    "OpenAICompatibleModel": "agentkit.models.openai_compat",
}


def _backend_missing(name: str) -> bool:
    module = BACKEND_MODULES.get(name)
    return module is not None and importlib.util.find_spec(module) is None


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in PUBLIC_NAMES.items() for name in names],
)
def test_public_name_imports(module: str, name: str) -> None:
    if _backend_missing(name):
        pytest.skip(f"{BACKEND_MODULES[name]} is not written yet")
    namespace: dict[str, object] = {}
    exec(f"from {module} import {name}", namespace)
    assert namespace[name] is not None


def _public_members(module: types.ModuleType) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )


def test_all_is_sorted() -> None:
    assert agentkit.__all__ == sorted(agentkit.__all__)


def test_all_is_complete() -> None:
    assert sorted(agentkit.__all__) == _public_members(agentkit)


@pytest.mark.parametrize(
    "module", ["agentkit.errors", "agentkit.events", "agentkit.formats", "agentkit.guardrails"]
)
def test_subpackage_all_names_exist(module: str) -> None:
    mod = importlib.import_module(module)
    for name in mod.__all__:
        assert hasattr(mod, name), name


def test_models_all_names_exist() -> None:
    import agentkit.models as models

    for name in models.__all__:
        if _backend_missing(name):
            continue
        assert getattr(models, name) is not None


def test_every_error_derives_from_the_root() -> None:
    import agentkit.errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AgentkitError), name


def test_public_names_have_docstrings() -> None:
    for name in agentkit.__all__:
        assert getattr(agentkit, name).__doc__, name


def test_import_is_light() -> None:
    code = (
        "import sys, agentkit, agentkit.models, agentkit.formats, agentkit.guardrails, "
        "agentkit.events, agentkit.errors\n"
        "print(sorted(m for m in ('torch', 'transformers', 'httpx') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
