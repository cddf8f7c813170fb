"""`agentkit serve` in a subprocess, driven by the official `openai` client and by agentkit."""

from __future__ import annotations

import concurrent.futures
import subprocess
import sys
from pathlib import Path

import pytest

from agentkit import Agent
from tests.test_server_support import HERE, ROOT, ServerProcess, serve_command, served

openai = pytest.importorskip("openai")
pytest.importorskip("uvicorn")

KEY = "test-key-123"
USER = [{"role": "user", "content": "add 2 3"}]


def client(server: ServerProcess, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def server() -> ServerProcess:  # type: ignore[misc]
    with served(f"{HERE}:make_agent", "--api-key", KEY, "--expose-tool-calls") as running:
        yield running


def test_the_official_client_gets_a_completion(server: ServerProcess) -> None:
    completion = client(server).chat.completions.create(model="agentkit", messages=USER)
    message = completion.choices[0].message
    assert message.content == "2 + 3 = 5"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.total_tokens >= 0
    [call] = message.model_extra["agentkit_tool_calls"]
    assert (call["name"], call["arguments"], call["content"]) == ("add", {"a": 2, "b": 3}, "5")


def test_the_official_client_streams(server: ServerProcess) -> None:
    stream = client(server).chat.completions.create(
        model="agentkit", messages=USER, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "2 + 3 = 5"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].usage is not None and not chunks[-1].choices


def test_the_official_client_sees_typed_errors(server: ServerProcess) -> None:
    with pytest.raises(openai.AuthenticationError):
        client(server, "wrong").chat.completions.create(model="agentkit", messages=USER)
    with pytest.raises(openai.BadRequestError, match="last message"):
        client(server).chat.completions.create(
            model="agentkit", messages=[{"role": "assistant", "content": "hi"}]
        )
    with pytest.raises(openai.NotFoundError):
        client(server).chat.completions.create(model="gpt-4o", messages=USER)
    assert [m.id for m in client(server).models.list()] == ["agentkit"]


@pytest.mark.parametrize("stream", [True, False])
@pytest.mark.parametrize("native_tools", [False, True])
def test_agentkit_runs_against_a_served_agent(
    server: ServerProcess, stream: bool, native_tools: bool
) -> None:
    from agentkit.models import OpenAICompatibleModel

    model = OpenAICompatibleModel(
        server.base_url, model="agentkit", api_key=KEY, stream=stream, native_tools=native_tools
    )
    result = Agent(model).run("add 20 22")
    assert result.output == "20 + 22 = 42"
    assert result.usage.model_turns == 1


def test_a_shutdown_lets_the_run_in_flight_finish(tmp_path: Path) -> None:
    release = tmp_path / "release"
    with ServerProcess(
        f"{HERE}:make_slow_agent", env={"AGENTKIT_TEST_RELEASE": str(release)}
    ) as server:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            slow = pool.submit(
                client(server).chat.completions.create,
                model="agentkit",
                messages=[{"role": "user", "content": "slow"}],
            )
            server.wait_for("RUN STARTED")
            server.process.terminate()
            server.wait_for("Shutting down")
            release.touch()
            assert slow.result(30).choices[0].message.content == "finished after the release"
        assert server.process.wait(30) == 0


def test_a_module_target_and_two_workers() -> None:
    with served("tests.test_server_support:agent", "--workers", "2") as server:
        answers = [
            client(server).chat.completions.create(
                model="agentkit", messages=[{"role": "user", "content": f"add {i} {i}"}]
            )
            for i in range(4)
        ]
        assert [a.choices[0].message.content for a in answers] == [
            f"{i} + {i} = {2 * i}" for i in range(4)
        ]


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_colon", "MODULE_OR_FILE:ATTRIBUTE"),
        ("missing/agent.py:agent", "no such file"),
        ("no_such_module_xyz:agent", "no such module"),
        (f"{HERE}:nothing", "has no attribute 'nothing'"),
        (f"{HERE}:ROOT", "not an Agent or a factory"),
        (f"{HERE}:reply", "reply() failed: TypeError"),
    ],
)
def test_a_bad_target_exits_2_in_one_line(target: str, words: str) -> None:
    done = subprocess.run(
        [*serve_command(), target, "--port", "0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert words in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_bad_option_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "key"
    empty.write_text("\n")
    for options in (["--timeout", "0"], ["--api-key-file", str(empty)], ["--workers", "0"]):
        done = subprocess.run(
            [*serve_command(), f"{HERE}:agent", "--port", "0", *options],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 2, (options, done.stderr)


def test_serve_is_importable_without_its_extra_imported() -> None:
    code = (
        "import agentkit, agentkit.server, sys; "
        "print('starlette' in sys.modules, 'uvicorn' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "False"]


def test_a_taken_port_exits_1() -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        done = subprocess.run(
            [*serve_command(), f"{HERE}:agent", "--port", port],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert "address already in use" in done.stderr.lower()
