"""Talking to an OpenAI-compatible server (vLLM, llama.cpp, Ollama, TGI...).

A tiny stand-in server runs in a thread here so that the example is self-contained; point
`OpenAICompatibleModel` at your own server's `/v1` URL instead.
Run: `python -m examples.openai_server`.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agentkit import Agent, tool
from agentkit.models import OpenAICompatibleModel


class StandInServer(BaseHTTPRequestHandler):
    """Answers like StableLM 2 would: a call first, then an answer from the tool's result.

    It streams server-sent events when asked to (as vLLM, llama.cpp and Ollama do), else sends
    one JSON body.
    """

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        last = body["messages"][-1]
        if last["role"] == "tool":
            text = f"The weather in Oslo: {last['content']}."
        else:
            text = '[{"name": "get_weather", "arguments": {"city": "Oslo"}}]'
        usage = {"prompt_tokens": 120, "completion_tokens": 14}
        if body.get("stream"):
            self._send("text/event-stream", _events(text, usage))
        else:
            message = {"role": "assistant", "content": text}
            reply = {"choices": [{"message": message, "finish_reason": "stop"}], "usage": usage}
            self._send("application/json", json.dumps(reply).encode())

    def _send(self, content_type: str, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the example's output quiet."""


def _events(text: str, usage: dict[str, int]) -> bytes:
    """The reply as a server-sent-event stream: text in pieces, the finish, usage, `[DONE]`."""
    chunks: list[dict[str, object]] = [
        {"choices": [{"index": 0, "delta": {"content": text[i : i + 8]}}]}
        for i in range(0, len(text), 8)
    ]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    chunks.append({"choices": [], "usage": usage})
    events = [f"data: {json.dumps(chunk)}\n\n" for chunk in chunks] + ["data: [DONE]\n\n"]
    return "".join(events).encode()


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return "4 °C and snowing"


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandInServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        # timeout bounds each read, deadline the whole turn (retries included); max_tokens
        # bounds the reply, whose `finish_reason == "length"` says when it was cut.
        model = OpenAICompatibleModel(
            base_url, model="stablelm-2-12b-chat", timeout=10, deadline=30, max_tokens=256
        )
        agent = Agent(model, tools=[get_weather])
        result = agent.run("What's the weather in Oslo?")
        for call in result.tool_calls:
            print(f"call: {call.name}({call.arguments}) -> {call.result}")
        print(f"answer: {result.output}")
        print(f"tokens: {result.usage.prompt_tokens} in, {result.usage.completion_tokens} out")
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    main()
