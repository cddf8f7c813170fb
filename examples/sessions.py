"""A conversation kept in SQLite between runs: the second run remembers what the first was told.

Each run opens the session afresh, as a new process of a service would: the history comes from
the database file, the run adds its turn, and the session's lock keeps two runs of the same
conversation from interleaving. A callable ScriptedModel stands in for a real backend (swap in
`OpenAICompatibleModel` or `TransformersModel`); the tool call and its result are stored too.
Run: `python -m examples.sessions` (add `--db PATH` to keep the database; run it twice).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import tempfile
from pathlib import Path

from agentkit import Agent, tool
from agentkit.models import ModelRequest, ScriptedModel
from agentkit.sessions import SQLiteSession, TrimPolicy


@tool
def greet(name: str) -> str:
    """Greet someone by name."""
    return f"Nice to meet you, {name}!"


def fake_model(request: ModelRequest) -> str:
    """Answers from the whole conversation it is shown, as a real model would."""
    last = request.messages[-1]
    if last.role != "user":  # the greeting tool has answered
        return last.content
    said = " ".join(m.content for m in request.messages if m.role == "user")
    name = re.search(r"[Mm]y name is (\w+)", said)
    if "my name is" in last.content.lower() and name:
        return json.dumps([{"name": "greet", "arguments": {"name": name.group(1)}}])
    if "my name" in last.content.lower():
        return f"Your name is {name.group(1)}." if name else "You have not told me your name."
    return "Tell me more."


agent = Agent(ScriptedModel(fake_model), tools=[greet], system_prompt="You are a friendly host.")


def open_session(db: Path) -> SQLiteSession:
    # The last 20 turns at most are sent to the model; the database keeps every message.
    return SQLiteSession(db, session_id="guest-42", policy=TrimPolicy(max_turns=20))


async def main(db: Path) -> None:
    first = await agent.run_async("Hello, my name is Ada.", session=open_session(db))
    print(f"run 1: {first.output}")
    # Later, from another process or after a restart: only the file and the session id remain.
    second = await agent.run_async("Do you remember my name?", session=open_session(db))
    print(f"run 2: {second.output}")
    stored = await open_session(db).load()
    print(f"stored: {len(stored)} messages in {db.name}")
    for message in stored:
        calls = ", ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
        print(f"  {message.role:9} {message.content or calls}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="the SQLite file (a temporary one by default)")
    args = parser.parse_args()
    if args.db is not None:
        asyncio.run(main(args.db))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            asyncio.run(main(Path(tmp) / "sessions.db"))
