"""An agent mounted in an existing Starlette web app, beside the app's own routes.

`create_app(agent)` is an ASGI app: mount it under a path and OpenAI clients use
`http://host/agent/v1` as their base URL (FastAPI: `app.mount("/agent", create_app(agent))`).
A callable ScriptedModel stands in for a real backend (swap in `OpenAICompatibleModel` or
`TransformersModel`). The example serves on a free port, calls both routes, and stops.
Run: `python -m examples.embedded_service` (needs `pip install 'agentkit[serve]'`).
"""

from __future__ import annotations

import asyncio
import socket

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from agentkit import Agent, tool
from agentkit.models import ModelRequest, ScriptedModel
from agentkit.server import create_app

STOCK = {"lamp": 3, "desk": 0}


@tool
def in_stock(item: str) -> int:
    """How many of an item the shop has in stock."""
    return STOCK.get(item, 0)


def fake_model(request: ModelRequest) -> str:
    last = request.transcript[-1]
    if last.role == "tool":
        return f"We have {last.content} in stock."
    item = last.content.rstrip("?").split()[-1]
    return f'[{{"name": "in_stock", "arguments": {{"item": "{item}"}}}}]'


agent = Agent(ScriptedModel(fake_model), tools=[in_stock], system_prompt="You run a shop.")


async def homepage(request: Request) -> JSONResponse:
    return JSONResponse({"shop": "open", "assistant": "/agent/v1"})


app = Starlette(
    routes=[
        Route("/", homepage),
        Mount("/agent", app=create_app(agent, model_name="shop-assistant")),
    ]
)


async def main() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            print("GET /:", (await client.get("/")).json())
            question = {"role": "user", "content": "How many do you have of lamp?"}
            body = {"model": "shop-assistant", "messages": [question]}
            reply = (await client.post("/agent/v1/chat/completions", json=body)).json()
            print("assistant:", reply["choices"][0]["message"]["content"])
    finally:
        server.should_exit = True
        await asyncio.wait_for(serving, 30)
        sock.close()


if __name__ == "__main__":
    asyncio.run(main())
