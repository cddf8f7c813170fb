"""The `agentkit` command line."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agentkit import cli
from agentkit.models import ScriptedModel

CALL = '[{"name": "calculate", "arguments": {"expression": "17 * 23"}}]'


def test_tools_prints_the_json_function_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["tools", "tools.calculator", "tools.clock"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    names = [s["function"]["name"] for s in schemas]
    assert names[0] == "calculate" and len(names) > 1
    assert all(s["type"] == "function" and "parameters" in s["function"] for s in schemas)


def test_a_tool_can_be_named_by_attribute() -> None:
    (calc,) = cli.load_tools("tools.calculator:calculate")
    assert calc.name == "calculate"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("no_such_module_here", "cannot import"),
        ("tools.calculator:nothing", "no attribute"),
        ("json", "holds no tools"),
        ("json:dumps", "holds no tools"),
    ],
)
def test_bad_tool_names_are_refused_clearly(
    spec: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match=why):
        cli.load_tools(spec)
    assert cli.main(["tools", spec]) == 2
    assert why in capsys.readouterr().err


def scripted(monkeypatch: pytest.MonkeyPatch, replies: list[str]) -> None:
    monkeypatch.setattr(cli, "_model", lambda _args: ScriptedModel(replies))


def test_run_prints_calls_results_and_the_answer(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted(monkeypatch, [CALL, "17 * 23 = 391."])
    assert cli.main(["run", "What is 17 * 23?", "--tools", "tools.calculator"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ['call: calculate({"expression": "17 * 23"})', "result: 391", "17 * 23 = 391."]


def test_run_json_prints_the_run_result(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted(monkeypatch, [CALL, "391"])
    assert cli.main(["run", "17 * 23?", "--tools", "tools.calculator", "--json"]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert result["output"] == "391"
    assert result["tool_calls"][0]["content"] == "391"
    assert [m["role"] for m in result["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert result["usage"]["model_turns"] == 2


def test_a_failed_run_exits_1_with_the_reason(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    scripted(monkeypatch, [CALL] * 3)
    assert cli.main(["run", "loop", "--tools", "tools.calculator", "--max-steps", "2"]) == 1
    assert "MaxStepsExceeded" in capsys.readouterr().err


def test_base_url_needs_a_model_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "hi", "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--model" in capsys.readouterr().err


@pytest.mark.model
def test_run_on_the_default_model(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["run", "What is 17 * 23?", "--tools", "tools.calculator", "--max-new-tokens", "48"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "call: calculate(" in out and "\nresult: " in out  # the 135M model's arguments vary


def test_the_installed_command_finds_tools_in_the_current_directory(tmp_path: Any) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    command = Path(sys.executable).parent / "agentkit"
    if not command.exists() and shutil.which("agentkit") is None:
        pytest.skip("agentkit is not installed as a command in this environment")
    exe = str(command) if command.exists() else "agentkit"
    source = 'from agentkit import tool\n\n@tool\ndef ping(host: str) -> str:\n    """Ping."""\n'
    (tmp_path / "my_tools.py").write_text(source + "    return host\n")
    done = subprocess.run(
        [exe, "tools", "my_tools"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)[0]["function"]["name"] == "ping"
