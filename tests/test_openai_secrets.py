"""`OpenAICompatibleModel` keeps secrets out of errors, reprs and logs; bad options are refused."""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import traceback
from typing import Any

import httpx
import pytest

from agentkit.errors import ModelError, UsageError
from agentkit.models import OpenAICompatibleModel
from tests.test_openai_compat import FakeServer, completion, request_for

KEY = "sk-live-0123456789abcdef"
PASSWORD = "hunter2-correct-horse"


def model_at(base_url: str, server: FakeServer, **options: Any) -> OpenAICompatibleModel:
    client = httpx.AsyncClient(transport=httpx.MockTransport(server.handle))
    options.setdefault("retry_wait", 0.001)
    return OpenAICompatibleModel(base_url, model="m", http_client=client, **options)


def failure(model: OpenAICompatibleModel) -> ModelError:
    with pytest.raises(ModelError) as info:
        asyncio.run(model.complete(request_for()))
    return info.value


def shown(exc: BaseException) -> str:
    """Everything a traceback of `exc` prints, chained causes included."""
    return "".join(traceback.format_exception(exc))


def test_a_key_read_from_a_file_is_stripped() -> None:
    server = FakeServer([completion("ok")])
    asyncio.run(server.model(api_key=f"  {KEY}\r\n").complete(request_for()))
    assert server.requests[0].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize(
    "key",
    [
        f"{KEY[:8]}\n{KEY[8:]}",
        f"{KEY}\x00x",
        f"{KEY[:8]}\x85{KEY[8:]}",
        f"{KEY}\u20ac",
        "\u5bc6\u94a5",
    ],
    ids=["newline", "nul", "c1-control", "euro", "cjk"],
)
def test_a_key_a_header_cannot_carry_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(UsageError, match="api_key holds") as info:
        OpenAICompatibleModel("http://fake/v1", model="m", api_key=key)
    message = shown(info.value)
    assert KEY[:8] not in message and KEY[8:] not in message and "\u5bc6" not in message


def test_a_key_the_server_echoes_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {KEY}"}})
    server = FakeServer([echo])
    error = failure(server.model(api_key=KEY))
    assert "HTTP 401: Incorrect API key provided: ***" in str(error)
    assert KEY not in shown(error)
    assert KEY not in caplog.text


def test_url_credentials_never_show(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url} ({PASSWORD}?)", request=request)

    server = FakeServer([refuse] * 3 + [completion("ok")])
    model = model_at(f"http://alice:{PASSWORD}@fake/v1", server, http_retries=2)
    assert PASSWORD not in repr(model)
    assert "http://alice:***@fake/v1" in repr(model)
    error = failure(model)
    assert "failed after 3 attempt(s): ConnectError" in str(error)
    assert PASSWORD not in shown(error)
    assert PASSWORD not in caplog.text and "retrying" in caplog.text
    sent = server.requests[0]
    assert str(sent.url) == "http://fake/v1/chat/completions"
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert sent.headers["authorization"] == f"Basic {basic}"
    assert asyncio.run(model.complete(request_for())).text == "ok"


def test_a_token_as_url_user_is_a_secret_too() -> None:
    server = FakeServer([httpx.Response(403, text="forbidden")])
    model = model_at("https://ghp_tokentokentoken@fake/v1", server)
    assert "https://***@fake/v1" in repr(model)
    assert "ghp_tokentokentoken" not in shown(failure(model))


@pytest.mark.parametrize(
    "url",
    ["not a url", "ftp://host/v1", "http://", f"http://bob:{PASSWORD}@[::1/v1", ""],
)
def test_a_bad_base_url_is_refused_without_its_password(url: str) -> None:
    with pytest.raises(UsageError, match="base_url") as info:
        OpenAICompatibleModel(url, model="m")
    assert PASSWORD not in shown(info.value)


@pytest.mark.parametrize(
    "options",
    [
        {"temperature": math.nan},
        {"temperature": math.inf},
        {"temperature": -0.5},
        {"max_tokens": 0},
        {"max_tokens": -5},
        {"max_tokens": 1.5},
        {"max_tokens": True},
        {"timeout": 0},
        {"timeout": math.nan},
        {"timeout": math.inf},
        {"deadline": -1},
        {"deadline": math.nan},
        {"retry_wait": -1},
        {"retry_wait": math.inf},
        {"http_retries": -1},
        {"http_retries": 2.5},
        {"max_response_bytes": 0},
        {"extra_body": {"top_p": math.nan}},
        {"extra_body": {"x": object()}},
        {"model": " "},
    ],
    ids=lambda options: "-".join(f"{k}={v!r}" for k, v in options.items()),
)
def test_out_of_range_options_are_refused_at_construction(options: dict[str, Any]) -> None:
    options.setdefault("model", "m")
    with pytest.raises(UsageError):
        OpenAICompatibleModel("http://fake/v1", **options)
