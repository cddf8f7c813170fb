"""Fetch a web page as readable text, without letting a model reach private networks.

    from agentkit_tools.web import web_tools
    agent = Agent(model, tools=web_tools())          # or the module's default `toolbox`

Only http and https. Every host is resolved and each of its addresses checked before anything is
sent: private, loopback, link-local, multicast, reserved and cloud-metadata addresses are refused
(in any spelling: `2130706433`, `0177.0.0.1`, `0x7f.0.0.1`, `127.1`, `[::ffff:127.0.0.1]`), and
the connection goes to the very address that was checked (the `Host` header and TLS name stay
the original), so a name that resolves differently a moment later cannot slip through.
Redirects are followed by hand, each one checked again, at most `max_redirects`. Responses are
bounded in bytes and time; HTML becomes its title and readable text (BeautifulSoup).
Needs `beautifulsoup4` (`pip install 'agentkit[tools]'`).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import zlib
from dataclasses import dataclass
from typing import Annotated, Any

import httpx
from pydantic import Field

from agentkit import Toolbox

from ._address import AddressPolicy
from ._errors import ToolError
from ._html import readable_text

if importlib.util.find_spec("bs4") is None:  # fail at import, where the CLI reports it
    raise ImportError("the web tools need beautifulsoup4: pip install 'agentkit[tools]'")

__all__ = ["WebLimits", "fetch_page", "toolbox", "web_tools"]

_HOST = re.compile(r"[A-Za-z0-9._\-]{1,253}|[0-9A-Fa-f:.]{2,45}")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HTML_TYPES = ("text/html", "application/xhtml+xml")
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/ld+json")


@dataclass(frozen=True)
class WebLimits:
    """Bounds on one fetch.

    Attributes:
        max_bytes: the most bytes of a body read (after decompression).
        max_chars: the most characters of text returned.
        timeout: seconds for the whole fetch, redirects included.
        max_redirects: redirects followed before giving up.
    """

    max_bytes: int = 2 * 1024 * 1024
    max_chars: int = 20_000
    timeout: float = 20.0
    max_redirects: int = 5


class _PinnedTransport(httpx.AsyncBaseTransport):
    """Checks the address of every request and connects to that address, and only that one."""

    def __init__(self, policy: AddressPolicy, inner: httpx.AsyncBaseTransport) -> None:
        self._policy = policy
        self._inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        port = request.url.port or (443 if request.url.scheme == "https" else 80)
        address = await self._policy.resolve(host, port)
        request.url = request.url.copy_with(host=str(address))  # `Host` header stays the name
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def _checked_url(raw: str | httpx.URL) -> httpx.URL:
    try:
        url = httpx.URL(raw)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise ToolError(f"not a valid URL: {exc}") from None
    if url.scheme not in ("http", "https"):
        raise ToolError(f"only http and https URLs are fetched, not {url.scheme or 'this'!r}")
    if not url.host:
        raise ToolError("the URL has no host")
    if not _HOST.fullmatch(url.raw_host.decode("ascii", errors="replace")):
        raise ToolError(f"not a valid URL: bad host name {url.host[:80]!r}")
    if url.userinfo:
        raise ToolError("URLs with a user name or password are refused")
    return url


def _decompressor(encoding: str) -> Any:
    if encoding in ("", "identity"):
        return None
    if encoding in ("gzip", "x-gzip"):
        return zlib.decompressobj(zlib.MAX_WBITS | 16)
    if encoding == "deflate":
        return zlib.decompressobj()
    raise ToolError(f"the server sent an encoding that is not read: {encoding!r}")


async def _read_bounded(response: httpx.Response, max_bytes: int) -> tuple[bytes, bool]:
    """At most `max_bytes` of the decoded body, and whether there was more."""
    decoder = _decompressor(response.headers.get("content-encoding", "").strip().lower())
    body = bytearray()
    async for chunk in response.aiter_raw():
        room = max_bytes + 1 - len(body)
        body += decoder.decompress(chunk, room) if decoder is not None else chunk[:room]
        if len(body) > max_bytes:
            return bytes(body[:max_bytes]), True
    return bytes(body), False


def _page(url: httpx.URL, response: httpx.Response, body: bytes, cut: bool, max_chars: int) -> Any:
    media = response.headers.get("content-type", "").split(";")[0].strip().lower()
    charset = response.charset_encoding
    if media in _HTML_TYPES or (not media and body.lstrip()[:1] == b"<"):
        title, text = readable_text(body, charset)
    elif media.startswith(_TEXT_TYPES) or media.endswith(("+json", "+xml")):
        title, text = None, body.decode(charset or "utf-8", errors="replace")
    else:
        raise ToolError(f"not a text page: {media or 'unknown type'} ({len(body)} bytes)")
    if len(text) > max_chars:
        text, cut = text[:max_chars], True
    return {
        "url": str(url),
        "status": response.status_code,
        "title": title,
        "text": text,
        "truncated": cut,
    }


async def fetch_page(
    url: str, *, policy: AddressPolicy | None = None, limits: WebLimits | None = None
) -> dict[str, Any]:
    """Fetch `url` under `policy` and `limits`; the page's final URL, status, title and text.

    Raises:
        ToolError: the URL or an address on the way is refused, or the fetch failed.
    """
    policy = policy or AddressPolicy()
    limits = limits or WebLimits()
    current = _checked_url(url)
    transport = _PinnedTransport(
        policy, httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    )
    headers = {"Accept-Encoding": "gzip, deflate", "User-Agent": "agentkit-web-tools/0.1"}
    timeout = httpx.Timeout(min(10.0, limits.timeout))
    try:
        async with (
            asyncio.timeout(limits.timeout),
            httpx.AsyncClient(transport=transport, trust_env=False, timeout=timeout) as client,
        ):
            for _ in range(limits.max_redirects + 1):
                request = client.build_request("GET", current, headers=headers)
                response = await client.send(request, stream=True)
                try:
                    location = response.headers.get("location")
                    if response.status_code in _REDIRECTS and location:
                        current = _checked_url(current.join(location))
                        continue
                    body, cut = await _read_bounded(response, limits.max_bytes)
                finally:
                    await response.aclose()
                return _page(current, response, body, cut, limits.max_chars)
    except TimeoutError:
        raise ToolError(f"the fetch took longer than {limits.timeout:g} s") from None
    except httpx.HTTPError as exc:
        raise ToolError(f"the fetch failed: {type(exc).__name__}: {exc}") from None
    except zlib.error as exc:
        raise ToolError(f"the server sent a broken compressed body: {exc}") from None
    raise ToolError(f"more than {limits.max_redirects} redirects")


def web_tools(
    *,
    allow_private: bool = False,
    allow_metadata: bool = False,
    limits: WebLimits | None = None,
) -> Toolbox:
    """A toolbox with `fetch_url`, refusing private addresses unless allowed.

    Args:
        allow_private: allow private, loopback and link-local addresses (an intranet, a test
            server on this machine). Cloud metadata addresses stay refused.
        allow_metadata: allow cloud metadata addresses (169.254.169.254, fd00:ec2::254) too.
        limits: size, time and redirect bounds (`WebLimits()` by default).
    """
    policy = AddressPolicy(allow_private=allow_private, allow_metadata=allow_metadata)
    bounds = limits or WebLimits()
    box = Toolbox()

    @box.tool(timeout=bounds.timeout + 5)
    async def fetch_url(url: Annotated[str, Field(max_length=2000)]) -> dict[str, Any]:
        """Fetch a web page and return its title and readable text.

        Args:
            url: an http or https URL.
        """
        return await fetch_page(url, policy=policy, limits=bounds)

    return box


toolbox = web_tools()
