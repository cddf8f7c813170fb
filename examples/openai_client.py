"""The official `openai` client against `agentkit serve`: plain, streamed, and with the calls.

The example starts `agentkit serve examples/openai_client.py:agent` itself on a free port (in
production: `agentkit serve mypackage.agents:agent --host 0.0.0.0 --port 8000 --api-key-file
key.txt`), then talks to it as to any OpenAI-compatible server. The tools run on the server;
`--expose-tool-calls` adds the calls of each run to the reply (`agentkit_tool_calls`).
A tool that needs a person's approval pauses the run: the reply lists the pending calls and
carries the run's sealed state; a follow-up request sends the decisions (`agentkit_resume`).
A callable ScriptedModel stands in for a real backend.
Run: `python -m examples.openai_client` (needs `pip install 'agentkit[serve]' openai`).
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
from pathlib import Path

import openai

from agentkit import Agent, tool
from agentkit.models import ModelRequest, ScriptedModel

KEY = "example-key"


@tool
def convert(celsius: float) -> float:
    """Convert a temperature from Celsius to Fahrenheit."""
    return round(celsius * 9 / 5 + 32, 1)


@tool(requires_approval=True)
def set_thermostat(celsius: float) -> str:
    """Set the thermostat (a person approves it first)."""
    return f"thermostat set to {celsius} °C"


def fake_model(request: ModelRequest) -> str:
    last = request.transcript[-1]
    if last.role == "tool" and last.name == "set_thermostat":
        return f"Done: {last.content}."
    if last.role == "tool":
        return f"That is {last.content} °F."
    if last.content.startswith("Set the thermostat"):
        celsius = last.content.split()[-1]
        return f'[{{"name": "set_thermostat", "arguments": {{"celsius": {celsius}}}}}]'
    degrees = re.search(r"-?\d+(\.\d+)?", last.content)
    if degrees is None:
        return "Tell me a temperature in Celsius."
    return f'[{{"name": "convert", "arguments": {{"celsius": {degrees[0]}}}}}]'


agent = Agent(ScriptedModel(fake_model), tools=[convert, set_thermostat])


def start_server() -> tuple[subprocess.Popen[str], str]:
    """`agentkit serve` on a free port; its base URL once it listens."""
    command = [sys.executable, "-m", "agentkit", "serve"]
    if subprocess.run([*command, "--help"], capture_output=True, check=False).returncode:
        command = [sys.executable, "-m", "agentkit._serve_cli", "serve"]  # before `serve` is listed
    target = f"{Path(__file__).resolve()}:agent"
    options = ["--port", "0", "--api-key", KEY, "--expose-tool-calls", "--log-level", "info"]
    server = subprocess.Popen(
        [*command, target, *options], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    assert server.stderr is not None
    for line in server.stderr:  # uvicorn says where it listens
        found = re.search(r"running on (http://\S+)", line)
        if found:
            threading.Thread(target=server.stderr.read, daemon=True).start()  # the rest of the log
            return server, found[1] + "/v1"
    raise SystemExit(f"the server did not start (exit status {server.wait()})")


def main() -> None:
    server, base_url = start_server()
    try:
        client = openai.OpenAI(base_url=base_url, api_key=KEY, timeout=30)
        question = [{"role": "user", "content": "What is 21 degrees Celsius in Fahrenheit?"}]
        completion = client.chat.completions.create(model="agentkit", messages=question)
        message = completion.choices[0].message
        print("answer:", message.content)
        for call in (message.model_extra or {}).get("agentkit_tool_calls", []):
            print(f"call: {call['name']}({call['arguments']}) -> {call['content']}")
        print("usage:", completion.usage)
        stream = client.chat.completions.create(model="agentkit", messages=question, stream=True)
        print("streamed:", "".join(c.choices[0].delta.content or "" for c in stream if c.choices))
        approve_a_call(client)
    finally:
        server.terminate()  # a graceful shutdown: runs in flight finish first
        server.wait(30)
        if server.stderr is not None:
            server.stderr.close()


def approve_a_call(client: openai.OpenAI) -> None:
    """A call that needs approval: the run pauses, a person decides, a follow-up resumes it."""
    ask = [{"role": "user", "content": "Set the thermostat to 19"}]
    paused = client.chat.completions.create(model="agentkit", messages=ask)
    extra = paused.choices[0].message.model_extra or {}
    print("finish_reason:", paused.choices[0].finish_reason)
    for call in extra["agentkit_pending_calls"]:
        print(f"waiting for approval: {call['name']}({call['arguments']})")
    decisions = {
        "state": extra["agentkit_state"],
        "approve": [extra["agentkit_pending_calls"][0]["id"]],
    }
    done = client.chat.completions.create(
        model="agentkit", messages=ask, extra_body={"agentkit_resume": decisions}
    )
    print("after approval:", done.choices[0].message.content)


if __name__ == "__main__":
    main()
