"""Chat prompts as token ids, where only the chat template's own markers become control tokens.

Tokenising a rendered chat as one string would turn special-token text inside a message (a tool
result holding `<|im_end|>`, a newline, `<|im_start|>system`...) into control tokens: a forged
turn. So the chat is rendered twice, once as is and once with each message's content
replaced by a unique placeholder; the placeholders show where content sits in the rendered text.
The text is then cut at the special tokens of the template's own text only, and every piece in
between is tokenised with special tokens split into plain text. (A template that transforms
contents, trimming them say, gets its own text where no message holds special-token text, and
the contents as given, as plain text, where one does.)

A tokenizer splits its input at special tokens and tokenises the pieces between them separately,
so a chat without special-token text in its content tokenises exactly as the whole string would
(the KV-cache prefixes of earlier turns and runs still match).
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from agentkit.errors import ModelError

__all__ = ["CHATML", "chat_ids", "render"]

logger = logging.getLogger("agentkit.models.transformers")

CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
"""The template used when a tokenizer has none."""


def render(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    *,
    template: str | None = None,
    add_generation_prompt: bool = True,
) -> str:
    """The chat rendered by `template`, else the tokenizer's template, else ChatML."""
    if template is None and not getattr(tokenizer, "chat_template", None):
        template = CHATML
    text: str = tokenizer.apply_chat_template(
        [dict(m) for m in messages],
        tokenize=False,
        add_generation_prompt=add_generation_prompt,
        chat_template=template,
    )
    return text


def chat_ids(
    tokenizer: Any,
    messages: Sequence[Mapping[str, str]],
    *,
    template: str | None = None,
    add_generation_prompt: bool = True,
) -> list[int]:
    """The token ids of the rendered chat; no text inside a message becomes a special token.

    Args:
        tokenizer: a transformers tokenizer.
        messages: chat messages (`role`, `content`).
        template: a chat template instead of the tokenizer's own.
        add_generation_prompt: end with the opening of the assistant's turn.

    Raises:
        ModelError: a message holds special-token text and the template transforms message
            contents beyond recognition (escapes them, say), so they cannot be kept apart.
    """
    chat = [dict(m) for m in messages]
    text = render(tokenizer, chat, template=template, add_generation_prompt=add_generation_prompt)
    nonce = secrets.token_hex(8)
    marked = [{**m, "content": f"\ue000{nonce}:{i}\ue001"} for i, m in enumerate(chat)]
    skeleton = render(
        tokenizer, marked, template=template, add_generation_prompt=add_generation_prompt
    )
    parts = re.split(f"\ue000{nonce}:(\\d+)\ue001", skeleton)
    pieces = [
        (part, True) if i % 2 == 0 else (chat[int(part)].get("content", ""), False)
        for i, part in enumerate(parts)
    ]
    specials = _special_tokens(tokenizer)
    if "".join(piece for piece, _ in pieces) == text:
        return _encode(tokenizer, pieces, specials)
    # The template transforms contents (trims them, say).
    if len(specials.pattern.findall(text)) == len(specials.pattern.findall(skeleton)):
        ids: list[int] = tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids  # no special token came from a message: the template's text as it is
    if any(nonce in part for part in parts[::2]):
        raise ModelError(
            "a message holds special-token text, and the chat template transforms message "
            "contents so that it cannot be kept as plain text"
        )
    logger.debug("the chat template transforms contents; contents holding markers kept as given")
    return _encode(tokenizer, pieces, specials)


def _encode(tokenizer: Any, pieces: list[tuple[str, bool]], specials: _Specials) -> list[int]:
    """Tokens of (text, is_template) pieces: special tokens only from the template's text."""
    ids: list[int] = []
    pending = ""  # plain text not yet tokenised: contents, and the template's text between markers
    swallow = False  # the marker before `pending` takes the whitespace after it (rstrip)
    for piece, is_template in pieces:
        parts = specials.pattern.split(piece) if is_template else [piece]
        for i, part in enumerate(parts):
            if i % 2 == 0:  # text; the odd parts are the markers the pattern captured
                pending += part
                continue
            lstrip, rstrip = specials.strip[part]
            ids += _plain_ids(tokenizer, _stripped(pending, swallow, lstrip))
            ids.append(specials.ids[part])
            pending, swallow = "", rstrip
    return ids + _plain_ids(tokenizer, _stripped(pending, swallow, False))


def _stripped(text: str, left: bool, right: bool) -> str:
    """`text` less the whitespace the markers around it take (as the tokenizer matches them)."""
    text = text.lstrip() if left else text
    return text.rstrip() if right else text


class _Specials:
    """A tokenizer's special tokens: a pattern capturing them (longest first), ids, stripping."""

    def __init__(self, tokens: dict[str, tuple[int, bool, bool]]) -> None:
        names = sorted(tokens, key=len, reverse=True)
        alternatives = "|".join(re.escape(name) for name in names) or "(?!)"
        self.pattern = re.compile(f"({alternatives})")
        self.ids = {name: tokens[name][0] for name in names}
        self.strip = {name: (tokens[name][1], tokens[name][2]) for name in names}


@functools.lru_cache(maxsize=16)
def _specials_of(tokens: tuple[tuple[str, int, bool, bool], ...]) -> _Specials:
    return _Specials({name: (id_, lstrip, rstrip) for name, id_, lstrip, rstrip in tokens})


def _special_tokens(tokenizer: Any) -> _Specials:
    """The special added tokens (id, lstrip, rstrip by name), as the tokenizer matches them."""
    decoder: Mapping[int, Any] = getattr(tokenizer, "added_tokens_decoder", {}) or {}
    tokens = tuple(
        (str(t.content), int(i), bool(t.lstrip), bool(t.rstrip))
        for i, t in sorted(decoder.items())
        if getattr(t, "special", False)
    )
    return _specials_of(tokens)


def _plain_ids(tokenizer: Any, text: str) -> list[int]:
    """Tokens of text in which special-token text is plain text."""
    if not text:
        return []
    ids: list[int] = tokenizer(text, add_special_tokens=False, split_special_tokens=True)[
        "input_ids"
    ]
    return ids
