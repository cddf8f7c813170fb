"""A run's prompt as a checked transcript, with the agent's system prompt in its place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from agentkit.errors import UsageError
from agentkit.messages import Message

__all__ = ["prepare_transcript"]


def prepare_transcript(prompt: object, system_prompt: str | None) -> list[Message]:
    """The transcript a run starts from.

    A string is one user message. A list holds `Message`s (or their dicts, e.g. read back from
    JSON), each validated. The agent's `system_prompt` comes first; a transcript that already
    begins with a system message must carry that same prompt (as an earlier run's
    `RunResult.messages` does): a different one raises `UsageError` rather than silently
    replacing or being replaced by the agent's.

    Raises:
        UsageError: an empty or malformed transcript, or a conflicting system message.
    """
    if isinstance(prompt, str):
        messages = [Message.user(prompt)]
    elif isinstance(prompt, Sequence) and not isinstance(prompt, bytes | bytearray):
        messages = [_message(item, i) for i, item in enumerate(prompt)]
    else:
        raise UsageError(
            f"the prompt must be a string or a list of messages, not {type(prompt).__name__}"
        )
    if not messages:
        raise UsageError("the prompt is an empty list of messages")
    if system_prompt:
        first = messages[0]
        if first.role != "system":
            messages.insert(0, Message.system(system_prompt))
        elif first.content != system_prompt:
            raise UsageError(
                "the transcript begins with a system message that differs from the agent's "
                "system_prompt; drop one of them (an Agent without system_prompt uses the "
                "transcript's)"
            )
    for i, msg in enumerate(messages[1:], 1):
        if msg.role == "system":
            raise UsageError(f"message {i} is a system message: only the first may be one")
    return messages


def _message(item: object, index: int) -> Message:
    if isinstance(item, Message):
        return item
    if not isinstance(item, Mapping):
        raise UsageError(f"message {index} is a {type(item).__name__}, not a Message or a dict")
    try:
        return Message.model_validate(item)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(message)'}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        raise UsageError(f"message {index} is not a valid message: {problems}") from None
