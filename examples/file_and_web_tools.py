"""File and web tools on a scripted agent: what they do, and what they refuse.

The agent reads a file, fetches a page from a small web server on this machine, writes a
summary, and is then refused three things a hostile prompt might ask for: a file outside its
folder, the cloud metadata address, and a page on this machine through the default (strict)
web tools. Run: `python -m examples.file_and_web_tools`.
"""

from __future__ import annotations

import http.server
import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from agentkit_tools.files import file_tools
from agentkit_tools.web import web_tools

from agentkit import Agent
from agentkit.models import ScriptedModel

PAGE = b"<html><head><title>Release notes</title></head><body><h1>v2.0</h1><p>Faster.</p></body>"


class Site(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


def call(name: str, **arguments: Any) -> str:
    return json.dumps([{"name": name, "arguments": arguments}])


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Site)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/notes"
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder) / "project"
        root.mkdir()
        (root / "todo.txt").write_text("Summarise the release notes.\n")
        (Path(folder) / "secret.txt").write_text("not for the agent\n")
        # This server is on this machine, so it must be allowed explicitly.
        trusting = web_tools(allow_private=True)
        tools = [*file_tools(root, writable=True), *trusting]
        script = [
            call("read_file", path="todo.txt"),
            call("fetch_url", url=url),
            call("write_file", path="summary.md", content="# v2.0\nFaster.\n"),
            call("read_file", path="../secret.txt"),
            call("fetch_url", url="http://169.254.169.254/latest/meta-data/"),
            "Done: summary.md holds the summary of v2.0.",
        ]
        agent = Agent(ScriptedModel(script), tools=tools, max_steps=8)
        result = agent.run("Do what todo.txt says.")
        for record in result.tool_calls:
            shown = record.error if record.error else record.content
            print(f"{record.name}: {shown[:100].strip()}")
        print(f"answer: {result.output}")
        print(f"summary.md: {(root / 'summary.md').read_text()!r}")
        strict = web_tools()["fetch_url"]  # the default: nothing private or local
        refused = Agent(ScriptedModel([call("fetch_url", url=url), "ok"]), tools=[strict])
        print(f"default web tools: {refused.run('Fetch it.').tool_calls[0].error}")
    server.shutdown()
    server.server_close()


if __name__ == "__main__":
    main()
