"""Regressions from a hostile review of the server: `$ref` schemas, odd schemas, stalled bodies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from agentkit import Agent
from agentkit.models import ModelRequest, ScriptedModel
from tests.test_server_support import serving

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

import agentkit._server_app as server_app  # noqa: E402
from agentkit.server import create_app  # noqa: E402

USER = [{"role": "user", "content": "Give me the steps."}]


def _answer(request: ModelRequest) -> str:
    return json.dumps({"steps": [{"text": "one"}], "total": 1})


def _format(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}}


def _post(schema: dict[str, Any]) -> httpx.Response:
    async def main() -> httpx.Response:
        app = create_app(Agent(ScriptedModel(_answer)))
        async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
            body = {"model": "agentkit", "messages": USER, "response_format": _format(schema)}
            return await client.post("/chat/completions", json=body)

    return asyncio.run(asyncio.wait_for(main(), 60))


NESTED = {  # what a client sends for a Pydantic model with a nested one
    "type": "object",
    "properties": {
        "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
        "total": {"type": "integer"},
    },
    "required": ["steps", "total"],
    "$defs": {
        "Step": {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    },
}


def test_a_schema_with_refs_gives_structured_output() -> None:
    response = _post(NESTED)
    assert response.status_code == 200, response.text
    content = json.loads(response.json()["choices"][0]["message"]["content"])
    assert content == {"steps": [{"text": "one"}], "total": 1}


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"$ref": "#"}}},
        {"type": "object", "$schema": 5},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}},
    ],
)
def test_an_unusable_schema_is_an_openai_shaped_error(schema: dict[str, Any]) -> None:
    response = _post(schema)
    assert response.headers["content-type"].startswith("application/json")
    assert response.status_code in (400, 500)
    assert "error" in response.json() and "Traceback" not in response.text


def test_a_stalled_body_is_refused_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server_app, "BODY_TIMEOUT", 0.3)

    async def main() -> bytes:
        app = create_app(Agent(ScriptedModel(_answer)))
        async with serving(app) as url:
            port = int(url.rsplit(":", 1)[1].split("/")[0])
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
                b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"mo'
            )
            await writer.drain()
            data = await asyncio.wait_for(reader.read(4096), 10)
            writer.close()
            return data

    data = asyncio.run(asyncio.wait_for(main(), 60))
    assert b" 408 " in data.split(b"\r\n", 1)[0] and b"request_timeout" in data
