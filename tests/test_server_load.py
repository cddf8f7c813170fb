"""Load: 200 concurrent requests on one served agent all succeed, each with its own answer, and
the server's memory comes back to where it was (bench/serve.py measures speed)."""

from __future__ import annotations

import asyncio
import gc
import json
import threading
import tracemalloc
from typing import Any

import pytest

from agentkit import Agent
from agentkit.models import ScriptedModel
from tests.test_server_support import add, reply, serving

pytestmark = pytest.mark.slow  # 200 concurrent requests against a real server

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

from agentkit.server import create_app  # noqa: E402

CONCURRENT = 200
LEAK_BOUND = 256 * 1024
"""Bytes still allocated after a second round of requests, compared to after the first."""
# Not what this test is about: the pool of threads for sync tools, which grows (to a bound)
# with the concurrency a round happens to reach and shrinks when idle; the first snapshot.
NOT_THE_SERVER = [
    tracemalloc.Filter(False, threading.__file__),
    tracemalloc.Filter(False, "*/agentkit/_workers.py"),
    tracemalloc.Filter(False, tracemalloc.__file__),
]


async def ask(client: Any, i: int) -> str:
    """One request; half of them streamed. Returns the answer's text."""
    prompt = {"role": "user", "content": f"add {i} {1000 * i}"}
    body = {"model": "agentkit", "messages": [prompt], "stream": i % 2 == 1}
    response = await client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    if i % 2 == 0:
        return str(response.json()["choices"][0]["message"]["content"])
    text = ""
    for line in response.text.splitlines():
        data = json.loads(line[6:]) if line.startswith("data: {") else {}
        if data.get("choices"):
            text += data["choices"][0]["delta"].get("content") or ""
    return text


def test_200_concurrent_requests_get_their_own_answers_and_leak_nothing() -> None:
    model = ScriptedModel(reply)
    app = create_app(Agent(model, tools=[add]), max_concurrency=CONCURRENT)

    async def round_of_requests(client: Any) -> None:
        answers = await asyncio.gather(*(ask(client, i) for i in range(CONCURRENT)))
        assert answers == [f"{i} + {1000 * i} = {1001 * i}" for i in range(CONCURRENT)]
        model.requests.clear()  # the scripted model records every request, by design

    async def test() -> list[tracemalloc.StatisticDiff]:
        limits = httpx.Limits(max_connections=CONCURRENT, max_keepalive_connections=CONCURRENT)
        async with (
            serving(app) as url,
            httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client,
        ):
            await round_of_requests(client)  # warm: connections, caches, lazy imports
            gc.collect()
            tracemalloc.start()
            try:
                await round_of_requests(client)
                gc.collect()
                baseline = tracemalloc.take_snapshot().filter_traces(NOT_THE_SERVER)
                await round_of_requests(client)
                gc.collect()
                after = tracemalloc.take_snapshot().filter_traces(NOT_THE_SERVER)
            finally:
                tracemalloc.stop()
        return after.compare_to(baseline, "lineno")

    growth = asyncio.run(asyncio.wait_for(test(), 600))
    assert app.state.agentkit.active == 0  # every slot given back once the server has stopped
    grown = sum(diff.size_diff for diff in growth)
    top = "\n".join(str(diff) for diff in growth[:5])
    assert grown < LEAK_BOUND, f"{grown} bytes more after a round; most:\n{top}"
