"""The `agentkit` command line: commands, specs, errors and exit codes, hostile environments."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from agentkit import cli

ROOT = Path(__file__).resolve().parent.parent
CALL = '[{"name": "calculate", "arguments": {"expression": "17 * 23"}}]'
TRACEBACK = "Traceback (most recent call last)"


def replies(tmp_path: Path, *texts: str) -> str:
    path = tmp_path / "replies.json"
    path.write_text(json.dumps(list(texts)))
    return f"scripted:{path}"


def agentkit(
    *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`python -m agentkit ...` in a fresh process, on this checkout."""
    environment = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
        "PYTHONWARNINGS": "error",
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "agentkit", *args],
        cwd=cwd,
        env=environment,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- schema ------------------------------------------------------------------------------------


def test_schema_prints_the_json_function_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["schema", "calculator", "clock"]) == 0
    schemas = json.loads(capsys.readouterr().out)
    names = [s["function"]["name"] for s in schemas]
    assert names[0] == "calculate" and "convert_time" in names
    assert all(s["type"] == "function" and "parameters" in s["function"] for s in schemas)


@pytest.mark.parametrize(
    "spec", ["calculator", "tools.calculator", "agentkit_tools.calculator", "calculator:calculate"]
)
def test_ready_made_tools_have_short_names_and_the_checkout_alias(
    spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["tools", spec]) == 0  # `tools` is an alias of `schema`
    assert json.loads(capsys.readouterr().out)[0]["function"]["name"] == "calculate"


def test_every_ready_made_toolbox_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENTKIT_NOTES", str(tmp_path / "notes.db"))
    monkeypatch.chdir(tmp_path)
    assert cli.main(["schema", "calculator,clock", "units", "web", "files", "notes"]) == 0
    names = {s["function"]["name"] for s in json.loads(capsys.readouterr().out)}
    assert {"calculate", "convert", "fetch_url", "read_file", "add_note"} <= names
    assert "write_file" not in names  # `files` on the command line is read-only
    assert (tmp_path / "notes.db").exists()


def test_files_and_module_attributes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = 'from agentkit import tool\n\n@tool\ndef ping(host: str) -> str:\n    """Ping."""\n'
    (tmp_path / "my_tools.py").write_text(source + "    return host\n")
    assert cli.main(["schema", str(tmp_path / "my_tools.py")]) == 0
    assert json.loads(capsys.readouterr().out)[0]["function"]["name"] == "ping"
    assert cli.main(["schema", f"{tmp_path / 'my_tools.py'}:ping"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["function"]["name"] == "ping"


@pytest.mark.parametrize(
    ("spec", "why"),
    [
        ("no_such_module_here", "no such module (ready-made tools: calculator"),
        ("calculator:nothing", "has no attribute 'nothing'"),
        ("json", "holds no tools"),
        ("json:dumps", "holds no tools"),
        ("missing/file.py", "no such file"),
        ("not a name", "not a module name"),
    ],
)
def test_bad_tool_names_are_refused_clearly(
    spec: str, why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["schema", spec]) == 2
    err = capsys.readouterr().err
    assert why in err and TRACEBACK not in err


def test_two_tools_with_one_name_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = 'from agentkit import tool\n\n@tool\ndef calculate() -> str:\n    """C."""\n'
    (tmp_path / "mine.py").write_text(source + "    return ''\n")
    assert cli.main(["schema", "calculator,calculator", "clock"]) == 0  # the same tools: once
    capsys.readouterr()
    assert cli.main(["schema", "calculator", str(tmp_path / "mine.py")]) == 2
    assert "two tools are named 'calculate'" in capsys.readouterr().err


def test_load_tools_raises_a_value_error() -> None:
    with pytest.raises(ValueError, match="holds no tools"):
        cli.load_tools("json")
    (calc,) = cli.load_tools("tools.calculator:calculate")
    assert calc.name == "calculate"


def test_a_broken_tool_module_is_reported_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("import no_such_dependency_here\n")
    (tmp_path / "raises.py").write_text("raise RuntimeError('boom at import')\n")
    done = agentkit("schema", "broken", cwd=tmp_path)
    assert done.returncode == 2
    assert "No module named 'no_such_dependency_here'" in done.stderr
    done = agentkit("schema", "./raises.py", cwd=tmp_path)
    assert done.returncode == 2 and "RuntimeError: boom at import" in done.stderr
    assert TRACEBACK not in done.stderr


# -- run ---------------------------------------------------------------------------------------


def test_run_prints_calls_results_and_the_answer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = replies(tmp_path, CALL, "17 * 23 = 391.")
    assert cli.main(["run", "What is 17 * 23?", "--tools", "calculator", "--model", model]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == ['call: calculate({"expression": "17 * 23"})', "result: 391", "17 * 23 = 391."]


def test_run_json_prints_the_run_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = replies(tmp_path, CALL, "391")
    assert cli.main(["run", "17 * 23?", "--tools", "calculator", "--json", "--model", model]) == 0
    result: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert result["output"] == "391"
    assert result["tool_calls"][0]["content"] == "391"
    assert [m["role"] for m in result["messages"]] == ["user", "assistant", "tool", "assistant"]
    assert result["usage"]["model_turns"] == 2


def test_a_failed_run_exits_1_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = replies(tmp_path, CALL, CALL, CALL)
    args = ["run", "loop", "--tools", "calculator", "--max-steps", "2", "--model", model]
    assert cli.main(args) == 1
    assert "MaxStepsExceeded" in capsys.readouterr().err


def test_the_prompt_can_come_from_standard_input(tmp_path: Path) -> None:
    done = agentkit("run", "-", "--model", replies(tmp_path, "Hello."), stdin="Hi there\n")
    assert done.returncode == 0 and done.stdout == "Hello.\n"


@pytest.mark.parametrize(
    ("args", "why"),
    [
        (["run", "hi", "--base-url", "http://127.0.0.1:9/v1"], "--base-url needs --model"),
        (["run", "hi", "--model", "http://127.0.0.1:9/v1"], "give --base-url"),
        (["run", "hi", "--model", "/nonexistent"], "no model at '/nonexistent'"),
        (["run", "hi", "--model", "scripted:/nonexistent.json"], "no file of scripted replies"),
        (["run", "hi", "--model", "json:dumps"], "is not a model"),
        (["run", "hi", "--model", "json:nothing"], "has no attribute 'nothing'"),
        (["run", "hi", "--max-steps", "0", "--model", "json:dumps"], "--max-steps"),
    ],
)
def test_model_mistakes_exit_2_in_one_line(
    args: list[str], why: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(args) == 2
    err = capsys.readouterr().err
    assert why in err and TRACEBACK not in err


def test_usage_errors_exit_2_and_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([]) == 2
    assert cli.main(["run"]) == 2
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "examples:" in out and "agentkit chat --tools" in out and "exit status" in out


def test_serve_is_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["serve", "--help"]) == 0
    assert "OpenAI chat-completions protocol" in capsys.readouterr().out
    assert cli.main(["serve", "no_such_module_here:agent"]) == 2
    assert TRACEBACK not in capsys.readouterr().err


def test_python_m_agentkit_works_like_the_command() -> None:
    done = agentkit("--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: agentkit")
    done = agentkit("schema", "calculator")
    assert done.returncode == 0 and json.loads(done.stdout)[0]["function"]["name"] == "calculate"


def test_a_missing_model_package_names_the_install_command() -> None:
    script = (
        "import sys; sys.modules['torch'] = None; sys.modules['transformers'] = None\n"
        "from agentkit.cli import main; sys.exit(main(['run', 'hi', '--model', 'default']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "AGENTKIT_CACHE": "/nonexistent-cache"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "pip install" in done.stderr and TRACEBACK not in done.stderr


# -- servers and secrets -----------------------------------------------------------------------


class EchoingServer(http.server.BaseHTTPRequestHandler):
    """Refuses every request, echoing its Authorization header in the error (a hostile server)."""

    seen: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        authorization = self.headers.get("Authorization", "")
        EchoingServer.seen.append(authorization)
        body = json.dumps({"error": {"message": f"bad key: {authorization}"}}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echoing_server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoingServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    EchoingServer.seen.clear()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


def test_a_refusing_server_exits_1_and_the_key_is_never_shown(echoing_server: str) -> None:
    done = agentkit("run", "hi", "--base-url", echoing_server, "--model", "m", "--api-key", "sk-42")
    assert done.returncode == 1
    assert "401" in done.stderr and "sk-42" not in done.stderr + done.stdout
    assert TRACEBACK not in done.stderr
    assert EchoingServer.seen == ["Bearer sk-42"]


@pytest.mark.parametrize("variable", ["AGENTKIT_API_KEY", "OPENAI_API_KEY"])
def test_the_key_comes_from_the_environment(echoing_server: str, variable: str) -> None:
    others = {name: "" for name in ("AGENTKIT_API_KEY", "OPENAI_API_KEY")}
    done = agentkit(
        "run", "hi", "--base-url", echoing_server, "--model", "m",
        env={**others, variable: "sk-env-key\n"},
    )  # fmt: skip
    assert done.returncode == 1
    assert EchoingServer.seen == ["Bearer sk-env-key"]  # the stray newline is dropped
    assert "sk-env-key" not in done.stderr


def test_a_key_with_a_line_break_inside_is_refused_unseen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    key = "sk-top\nsecret\r"
    assert cli.main(["run", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                     "--api-key", key]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "line break" in err and "sk-top" not in err and "secret" not in err


def test_a_server_that_is_not_there_exits_1_cleanly() -> None:
    done = agentkit("run", "hi", "--base-url", "http://127.0.0.1:9/v1", "--model", "m")
    assert done.returncode == 1
    assert done.stderr.startswith("agentkit: ") and TRACEBACK not in done.stderr


# -- hostile environments ----------------------------------------------------------------------

SHADOW = "import pathlib; pathlib.Path({marker!r}).write_text('ran')\n"
PING = 'import httpx\nfrom agentkit import tool\n\n@tool\ndef ping() -> str:\n    """P."""\n'


def shadowed_directory(tmp_path: Path, names: list[str]) -> Path:
    for name in names:
        (tmp_path / f"{name}.py").write_text(SHADOW.format(marker=str(tmp_path / "shadow-ran")))
    (tmp_path / "my_tools.py").write_text(PING + "    return httpx.__name__\n")
    return tmp_path / "shadow-ran"


def test_python_m_never_runs_library_look_alikes_of_the_current_directory(
    tmp_path: Path, echoing_server: str
) -> None:
    """`agentkit run` once ran a local `httpx.py` (imported lazily, after `import agentkit`)."""
    marker = shadowed_directory(tmp_path, ["httpx", "torch", "transformers", "jsonschema"])
    server = ["--base-url", echoing_server, "--model", "m"]
    for args in (["run", "hi", *server], ["run", "hi", *server, "--tools", "my_tools"]):
        done = agentkit(*args, cwd=tmp_path)
        assert done.returncode == 1 and "401" in done.stderr, done.stderr  # the server answered
    done = agentkit("schema", "my_tools", "calculator", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert not marker.exists(), "a module of the current directory stood in for a library"


def test_the_command_never_runs_any_look_alike_of_the_current_directory(
    tmp_path: Path, echoing_server: str
) -> None:
    command = Path(sys.executable).parent / "agentkit"
    if not command.exists():
        pytest.skip("agentkit is not installed as a command in this environment")
    names = ["httpx", "torch", "transformers", "pydantic", "pydantic_core", "typing_extensions"]
    marker = shadowed_directory(tmp_path, names)
    server = ["--base-url", echoing_server, "--model", "m"]
    for args in (["run", "hi", *server], ["run", "hi", *server, "--tools", "my_tools"]):
        done = subprocess.run(
            [str(command), *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
            env={**os.environ, "PYTHONPATH": str(ROOT)}, check=False,
        )  # fmt: skip
        assert done.returncode == 1 and "401" in done.stderr, done.stderr
    assert not marker.exists(), "a module of the current directory stood in for a library"


def test_a_broken_pipe_ends_quietly(tmp_path: Path) -> None:
    model = replies(tmp_path, "x" * 500_000)
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(
        [sys.executable, "-m", "agentkit", "run", "hi", "--model", model],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        assert process.stdout.read(1) == b"x"  # like `| head -c1`
        process.stdout.close()
        err = process.stderr.read().decode()
        assert process.wait(timeout=60) == 1
    assert err == ""


def test_an_ascii_only_terminal_gets_escapes_not_a_traceback(tmp_path: Path) -> None:
    model = replies(tmp_path, "It is 20 °C in 東京.")
    env = {"PYTHONIOENCODING": "ascii", "LANG": "C", "LC_ALL": "C"}
    done = agentkit("run", "Météo à Tokyo ?", "--model", model, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "It is 20 \\xb0C in \\u6771\\u4eac.\n"
    done = agentkit("schema", "units", env=env)
    assert done.returncode == 0 and "\\xb0F" in done.stdout


def test_the_installed_command_finds_tools_in_the_current_directory(tmp_path: Path) -> None:
    command = Path(sys.executable).parent / "agentkit"
    if not command.exists() and shutil.which("agentkit") is None:
        pytest.skip("agentkit is not installed as a command in this environment")
    exe = str(command) if command.exists() else "agentkit"
    source = 'from agentkit import tool\n\n@tool\ndef ping(host: str) -> str:\n    """Ping."""\n'
    (tmp_path / "my_tools.py").write_text(source + "    return host\n")
    done = subprocess.run(
        [exe, "schema", "my_tools", "calculator"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert [s["function"]["name"] for s in json.loads(done.stdout)] == ["ping", "calculate"]


@pytest.mark.model
def test_run_on_the_default_model_with_one_progress_line() -> None:
    args = ["run", "What is 17 * 23?", "--tools", "calculator", "--max-new-tokens", "48"]
    done = agentkit(*args, env={"PYTHONWARNINGS": "default"})
    assert done.returncode == 0, done.stderr
    assert "call: calculate(" in done.stdout and "\nresult: " in done.stdout
    progress = done.stderr.strip().splitlines()
    assert progress[0].startswith("agentkit: ") and "default model" in progress[0]
    assert "%|" not in done.stderr  # no progress bars


# -- chat --------------------------------------------------------------------------------------

CHAT_MODEL = '''
import asyncio
from agentkit.formats import StableLMFormat
from agentkit.models import Model, ModelResponse


class ChatModel(Model):
    """Answers like a person testing the chat would expect, and hangs when asked to."""

    format = StableLMFormat()

    async def stream(self, request):
        said = [m.content for m in request.transcript if m.role == "user"]
        last = request.transcript[-1]
        if last.role == "tool":
            text = "17 * 23 = " + last.content + "."
        elif "17" in said[-1]:
            text = '[{"name": "calculate", "arguments": {"expression": "17 * 23"}}]'
        elif "hang" in said[-1]:
            yield "Thinking very slowly"
            await asyncio.Event().wait()
            return
        else:
            text = f"You have said {len(said)} things; the first was: {said[0]}"
        words = text.split(" ")
        for index, word in enumerate(words):  # streamed word by word
            yield word if index == len(words) - 1 else word + " "
        yield ModelResponse(text=text, finish_reason="stop")


model = ChatModel()
'''


def chat_session(tmp_path: Path, lines: list[str]) -> tuple[Any, Any]:
    import io

    from agentkit import Agent
    from agentkit._cli._chat import ChatSession
    from agentkit._cli._output import Console
    from tools.calculator import calculate

    (tmp_path / "chat_model.py").write_text(CHAT_MODEL)
    sys.path.insert(0, str(tmp_path))
    try:
        import chat_model  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("chat_model", None)
    out = io.StringIO()
    feed = iter(lines)

    def read(prompt: str) -> str:
        out.write(prompt)
        item = next(feed, None)
        if item is None:
            raise EOFError
        if item == "^C":
            raise KeyboardInterrupt
        out.write(item + "\n")
        return item

    session = ChatSession(Agent(chat_model.model, tools=[calculate]), Console(out, out), read)
    return session, out


def test_chat_keeps_the_conversation_and_obeys_commands(tmp_path: Path) -> None:
    session, out = chat_session(
        tmp_path, ["What is 17 * 23?", "/tools", "who am I?", "^C", "/reset", "again?", "/bogus"]
    )
    assert session.loop() == 0
    text = out.getvalue()
    assert '  call: calculate({"expression": "17 * 23"})\n  result: 391\n17 * 23 = 391.\n' in text
    assert "  calculate: Evaluate an arithmetic expression." in text
    assert "You have said 2 things; the first was: What is 17 * 23?" in text
    assert "(conversation cleared)" in text
    assert "You have said 1 things; the first was: again?" in text
    assert "unknown command /bogus" in text and "/reset: forget the conversation" in text


def test_chat_ends_on_exit(tmp_path: Path) -> None:
    session, out = chat_session(tmp_path, ["/exit", "never read"])
    assert session.loop() == 0
    assert "never read" not in out.getvalue()


def test_chat_errors_are_shown_and_the_session_goes_on(tmp_path: Path) -> None:
    from agentkit import Agent
    from agentkit.models import ScriptedModel

    session, out = chat_session(tmp_path, ["first", "second"])
    session.agent = Agent(ScriptedModel(["only one reply"]))
    assert session.loop() == 0
    text = out.getvalue()
    assert "only one reply" in text and "agentkit: ModelError: ScriptedModel ran out" in text


def test_the_streamer_holds_calls_and_streams_answers() -> None:
    import io

    from agentkit._cli._output import Console, StepStreamer
    from agentkit.events import TextDelta

    out = io.StringIO()
    streamer = StepStreamer(Console(out, out))
    for piece in ['  [{"name"', ': "x"}]']:
        streamer.feed(TextDelta(piece, step=0))
    assert out.getvalue() == ""  # maybe a call: held
    for piece in ["The ", "answer"]:
        streamer.feed(TextDelta(piece, step=1))
    assert out.getvalue() == "The answer"


TMUX = shutil.which("tmux")


class Terminal:
    """A real terminal (tmux) running one command; keys in, screen out."""

    def __init__(self, socket: str, command: str, cwd: Path) -> None:
        self.base = ["tmux", "-L", socket]
        subprocess.run(
            [*self.base, "new-session", "-d", "-s", "t", "-x", "120", "-y", "50", "-c", str(cwd),
             command],
            check=True, timeout=30,
        )  # fmt: skip

    def keys(self, *keys: str) -> None:
        subprocess.run([*self.base, "send-keys", "-t", "t", *keys], check=True, timeout=30)

    def screen(self) -> str:
        done = subprocess.run(
            [*self.base, "capture-pane", "-p", "-t", "t", "-S", "-200"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return done.stdout

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> str:
        """Poll the screen until `text` shows `count` times (the only way to watch a terminal)."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} never showed {count} times; the screen:\n{self.screen()}")

    def alive(self) -> bool:
        return subprocess.run([*self.base, "has-session", "-t", "t"], capture_output=True,
                              timeout=30, check=False).returncode == 0  # fmt: skip

    def close(self) -> None:
        subprocess.run([*self.base, "kill-server"], capture_output=True, timeout=30, check=False)


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (.ci/setup installs it)")
def test_chat_in_a_real_terminal(tmp_path: Path) -> None:
    (tmp_path / "chat_model.py").write_text(CHAT_MODEL)
    command = (
        f"env HF_HUB_OFFLINE=1 PYTHONPATH={ROOT} {sys.executable} -m agentkit chat"
        " --model chat_model:model --tools calculator; echo EXITED $?; sleep 30"
    )
    terminal = Terminal(f"agentkit-test-{os.getpid()}", command, tmp_path)
    try:
        terminal.wait_for("you>")
        terminal.keys("What is 17 * 23?", "Enter")
        screen = terminal.wait_for("17 * 23 = 391.")
        assert 'call: calculate({"expression": "17 * 23"})' in screen and "result: 391" in screen
        terminal.wait_for("you>", 2)
        terminal.keys("/tools", "Enter")
        terminal.wait_for("calculate: Evaluate an arithmetic expression.")
        terminal.keys("please hang", "Enter")
        terminal.wait_for("Thinking very slowly")
        terminal.keys("C-c")  # stops the answer, not the session
        terminal.wait_for("(stopped)")
        terminal.wait_for("you>", 4)
        terminal.keys("how many?", "Enter")
        terminal.wait_for("You have said 2 things")  # the stopped turn was not kept
        terminal.keys("/reset", "Enter")
        terminal.wait_for("(conversation cleared)")
        terminal.keys("and now?", "Enter")
        terminal.wait_for("You have said 1 things; the first was: and now?")
        terminal.keys("/exit", "Enter")
        screen = terminal.wait_for("EXITED 0")
        assert TRACEBACK not in screen
    finally:
        terminal.close()
