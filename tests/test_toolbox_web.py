"""tools/web.py: pages from a real loopback server, and the address refusals (no network)."""

from __future__ import annotations

import asyncio
import gzip
import http.server
import socket
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from agentkit.errors import AgentkitError

pytest.importorskip("bs4")
from tools._address import AddressPolicy, ip_literal
from tools.web import WebLimits, fetch_page, toolbox, web_tools

PAGE = (
    b"<html><head><title>Test page</title><style>p {}</style></head><body>"
    b"<nav>menu</nav><h1>Hello</h1><p>Some <b>bold</b> text</p><script>evil()</script>"
    b"</body></html>"
)


class Handler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()
    hosts: ClassVar[list[str]] = []

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, status: int, body: bytes = b"", **headers: str) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        Handler.hosts.append(self.headers.get("Host", ""))
        routes = {
            "/page": lambda: self.send(200, PAGE, Content_Type="text/html; charset=utf-8"),
            "/redirect": lambda: self.send(302, Location="/page"),
            "/to-metadata": lambda: self.send(302, Location="http://169.254.169.254/latest/"),
            "/to-file": lambda: self.send(302, Location="file:///etc/passwd"),
            "/to-loopback": lambda: self.send(301, Location="http://[::ffff:127.0.0.1]:1/"),
            "/loop": lambda: self.send(302, Location="/loop"),
            "/big": lambda: self.send(200, b"x" * 3_000_000, Content_Type="text/plain"),
            "/bomb": lambda: self.send(
                200,
                gzip.compress(b"<p>" + b"a" * 50_000_000 + b"</p>"),
                Content_Type="text/html",
                Content_Encoding="gzip",
            ),
            "/image": lambda: self.send(200, b"\x89PNG....", Content_Type="image/png"),
            "/json": lambda: self.send(200, b'{"a": 1}', Content_Type="application/json"),
        }
        if self.path == "/hang":
            Handler.release.wait(timeout=30)
            return
        routes.get(self.path, lambda: self.send(404, b"not found", Content_Type="text/plain"))()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    Handler.release.set()
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=10)


LOCAL = AddressPolicy(allow_private=True)


def fetch(url: str, policy: AddressPolicy = LOCAL, **limits: Any) -> dict[str, Any]:
    return asyncio.run(fetch_page(url, policy=policy, limits=WebLimits(**limits)))


def test_a_page_becomes_title_and_readable_text(server: str) -> None:
    page = fetch(server + "/page")
    assert page == {
        "url": server + "/page",
        "status": 200,
        "title": "Test page",
        "text": "Hello\nSome bold text",
        "truncated": False,
    }


def test_the_tool_fetches_when_private_addresses_are_allowed(server: str) -> None:
    fetch_url = web_tools(allow_private=True)["fetch_url"]
    assert asyncio.run(fetch_url(server + "/page"))["title"] == "Test page"
    with pytest.raises(AgentkitError, match=r"refused: 127\.0\.0\.1 is a loopback"):
        asyncio.run(toolbox["fetch_url"](server + "/page"))  # the default refuses


def test_redirects_are_followed_and_checked_each_time(server: str) -> None:
    assert fetch(server + "/redirect")["url"] == server + "/page"
    with pytest.raises(AgentkitError, match=r"169\.254\.169\.254 is a cloud metadata address"):
        fetch(server + "/to-metadata")
    with pytest.raises(AgentkitError, match="only http and https"):
        fetch(server + "/to-file")
    with pytest.raises(AgentkitError, match="more than 2 redirects"):
        fetch(server + "/loop", max_redirects=2)


def test_a_redirect_into_loopback_is_refused_by_a_strict_policy(server: str) -> None:
    strict_after_first = _FirstHopAllowed()
    with pytest.raises(AgentkitError, match=r"::ffff:127\.0\.0\.1 \(::ffff:7f00:1\) is a loopback"):
        fetch(server + "/to-loopback", policy=strict_after_first)


class _FirstHopAllowed(AddressPolicy):
    """Allows the test server once, then behaves as the default policy."""

    def __init__(self) -> None:
        super().__init__()
        object.__setattr__(self, "_used", False)

    def refusal(self, address: Any) -> str | None:
        if not self._used:  # type: ignore[has-type]
            object.__setattr__(self, "_used", True)
            return None
        return super().refusal(address)


def test_the_connection_goes_to_the_checked_address(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name resolves to the test server once, elsewhere afterwards."""
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            return real(next(answers, "10.255.255.1"), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    port = server.rsplit(":", 1)[1]
    Handler.hosts.clear()
    page = fetch(f"http://rebind.test:{port}/page", timeout=5)
    assert page["title"] == "Test page"
    assert Handler.hosts == [f"rebind.test:{port}"]  # the Host header kept the name


def test_sizes_are_bounded(server: str) -> None:
    big = fetch(server + "/big", max_bytes=1000)
    assert big["truncated"] and len(big["text"]) == 1000
    bomb = fetch(server + "/bomb", max_bytes=100_000)
    assert bomb["truncated"] and len(bomb["text"]) <= 100_000
    assert fetch(server + "/page", max_chars=5)["text"] == "Hello"


def test_time_is_bounded(server: str) -> None:
    with pytest.raises(AgentkitError, match=r"longer than 0\.5 s"):
        fetch(server + "/hang", timeout=0.5)


def test_text_types_and_others(server: str) -> None:
    assert fetch(server + "/json")["text"] == '{"a": 1}'
    with pytest.raises(AgentkitError, match="not a text page: image/png"):
        fetch(server + "/image")
    assert fetch(server + "/missing")["status"] == 404


ADDRESS_SPELLINGS = [
    "http://127.0.0.1/",
    "http://2130706433/",
    "http://0x7f.0.0.1/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://127.0.0.1./",
    "http://0/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://[64:ff9b::a00:1]/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.1.1/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://255.255.255.255/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "https://localhost:8443/",
]


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refuse)


@pytest.mark.parametrize("url", ADDRESS_SPELLINGS)
def test_every_spelling_of_an_internal_address_is_refused(url: str, no_connections: None) -> None:
    with pytest.raises(AgentkitError, match="refused: "):
        fetch(url, policy=AddressPolicy())


@pytest.mark.parametrize(
    "url", ["http://0177.0.0.1/", "http://[::1/", "http://exa mple.com/", "http://", ""]
)
def test_malformed_urls_are_refused(url: str, no_connections: None) -> None:
    with pytest.raises(AgentkitError, match=r"not a valid URL|no host|only http"):
        fetch(url, policy=AddressPolicy())


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/", "gopher://x/", "javascript:alert(1)", "data:,x"],
)
def test_only_http_and_https(url: str, no_connections: None) -> None:
    with pytest.raises(AgentkitError, match="only http and https"):
        fetch(url, policy=AddressPolicy())


def test_credentials_in_urls_are_refused(no_connections: None) -> None:
    with pytest.raises(AgentkitError, match="user name or password"):
        fetch("http://example.com@127.0.0.1/", policy=AddressPolicy())


def test_metadata_stays_refused_when_private_addresses_are_allowed(no_connections: None) -> None:
    for url in ("http://169.254.169.254/", "http://[fd00:ec2::254]/", "http://[::ffff:a9fe:a9fe]/"):
        with pytest.raises(AgentkitError, match="cloud metadata"):
            fetch(url, policy=AddressPolicy(allow_private=True))
    assert (
        AddressPolicy(allow_metadata=True, allow_private=True).refusal(
            ip_literal("169.254.169.254")  # type: ignore[arg-type]
        )
        is None
    )


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0x7f.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("0", "0.0.0.0"),
        ("[::ffff:127.0.0.1]", "::ffff:7f00:1"),
        ("example.com", None),
        ("1.2.3.4.5", None),
        ("08.0.0.1", None),
        ("256.0.0.1", None),
        ("١٢٧.0.0.1", None),  # Arabic-Indic digits are not an address
    ],
)
def test_address_spellings_are_recognised(host: str, address: str | None) -> None:
    found = ip_literal(host)
    assert (str(found) if found is not None else None) == address


def test_public_addresses_are_allowed() -> None:
    for address in ("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "8.8.8.8"):
        assert AddressPolicy().refusal(ip_literal(address)) is None  # type: ignore[arg-type]
