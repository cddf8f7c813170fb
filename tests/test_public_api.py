"""The public import paths are a contract (ARCHITECTURE.md, "Public names")."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import types

import pytest

import agentkit

PUBLIC_NAMES = {
    "agentkit": [
        "tool",
        "Tool",
        "Toolbox",
        "Agent",
        "RunResult",
        "Message",
        "RunState",
        "UsageLimits",
    ],
    "agentkit.models": [
        "ScriptedModel",
        "TransformersModel",
        "OpenAICompatibleModel",
        "CallShaping",
    ],
    "agentkit.guardrails": [
        "Guardrail",
        "Verdict",
        "PIIGuardrail",
        "PromptInjectionGuardrail",
        "LLMJudgeGuardrail",
    ],
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
        "ToolGuardrailTripped",
        "UsageLimitExceeded",
    ],
    "agentkit.routing": ["EmbeddingRouter", "ChoiceRouter"],
    "agentkit.sessions": ["InMemorySession", "SQLiteSession", "RedisSession", "Session"],
}
# Every package and public module with an `__all__`, whose names must exist and be sorted.
PUBLIC_MODULES = [
    "agentkit",
    "agentkit.agent",
    "agentkit.errors",
    "agentkit.events",
    "agentkit.formats",
    "agentkit.guardrails",
    "agentkit.messages",
    "agentkit.models",
    "agentkit.models.scripted",
    "agentkit.models.shaping",
    "agentkit.routing",
    "agentkit.sessions",
    "agentkit.tools",
]


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in PUBLIC_NAMES.items() for name in names],
)
def test_public_name_imports(module: str, name: str) -> None:
    namespace: dict[str, object] = {}
    exec(f"from {module} import {name}", namespace)
    assert namespace[name] is not None


def _public_members(module: types.ModuleType) -> list[str]:
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    )


@pytest.mark.parametrize("module", PUBLIC_MODULES)
def test_all_names_exist_and_are_sorted(module: str) -> None:
    mod = importlib.import_module(module)
    assert mod.__all__ == sorted(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name) is not None, name


def test_root_all_is_complete_and_holds_no_internals() -> None:
    assert sorted(agentkit.__all__) == _public_members(agentkit)
    for internal in ("ChatMessage", "serialize_result", "apply_guardrails", "route_choice"):
        assert internal not in agentkit.__all__


def test_every_error_derives_from_the_root() -> None:
    import agentkit.errors as errors

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AgentkitError), name


def test_the_error_tree_in_the_docstring_names_every_error() -> None:
    import agentkit.errors as errors

    assert errors.__doc__ is not None
    for name in errors.__all__:
        assert name in errors.__doc__, name


def test_public_names_have_docstrings() -> None:
    for name in agentkit.__all__:
        assert getattr(agentkit, name).__doc__, name


def test_import_is_light() -> None:
    """`import agentkit` and its light subpackages load no heavy library, nor asyncio.

    asyncio is imported where a run starts (it adds about 30 ms to every command-line start);
    a module-level `import asyncio` anywhere on the import path fails this test.
    """
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import agentkit, agentkit.models, agentkit.formats, agentkit.guardrails, "
        "agentkit.events, agentkit.errors, agentkit.routing\n"
        "heavy = ('torch', 'transformers', 'httpx', 'asyncio', 'numpy', 'jsonschema')\n"
        "print(__import__('json').dumps(sorted(m for m in heavy if m in sys.modules "
        "and m not in before)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(out.stdout) == []
