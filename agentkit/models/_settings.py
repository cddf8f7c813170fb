"""How a local model decodes: one frozen, validated settings object."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TypedDict, Unpack

from agentkit.errors import UsageError

__all__ = ["DecodingOptions", "DecodingSettings"]


@dataclass(frozen=True, slots=True)
class DecodingSettings:
    """How `TransformersModel` decodes: validated when built, replaced (never changed) after.

    Attributes:
        constrained: force every reply to be a final answer or a schema-valid call (llguidance).
        max_new_tokens: the most tokens one turn may generate.
        temperature: 0 for greedy decoding (default), else the sampling temperature.
        retry_temperature: the sampling temperature of a retry after a failed turn, when
            `temperature` is 0 (greedy decoding would repeat the failed reply); 0 keeps greedy.
        cache_sessions: how many runs keep their KV cache between turns (0: none).
        batch_size: how many concurrent replies decode together in one forward pass per token
            (1: one after the other).
        share_prefixes: a new run's first turn starts from the KV cache of a recent prompt
            with the same beginning (the system prompt and function list), prefilling only the
            rest.

    Raises:
        UsageError: a setting of the wrong type or out of range (a NaN temperature, a negative
            count).

    Example:
        >>> settings = DecodingSettings(max_new_tokens=64)
        >>> settings.replace(temperature=0.5).temperature
        0.5
        >>> DecodingSettings(temperature=float("nan"))
        Traceback (most recent call last):
        ...
        agentkit.errors.UsageError: temperature must be a finite number >= 0, not nan
    """

    constrained: bool = True
    max_new_tokens: int = 512
    temperature: float = 0.0
    retry_temperature: float = 0.7
    cache_sessions: int = 8
    batch_size: int = 8
    share_prefixes: bool = True

    def __post_init__(self) -> None:
        for name in ("constrained", "share_prefixes"):
            _check_bool(name, getattr(self, name))
        _check_int("max_new_tokens", self.max_new_tokens, least=1)
        _check_int("cache_sessions", self.cache_sessions, least=0)
        _check_int("batch_size", self.batch_size, least=1)
        _check_temperature("temperature", self.temperature)
        _check_temperature("retry_temperature", self.retry_temperature)

    def replace(self, **changes: Unpack[DecodingOptions]) -> DecodingSettings:
        """A copy with some settings changed (validated like a new one).

        Raises:
            UsageError: an unknown setting, or an invalid value.
        """
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise UsageError(f"unknown decoding settings: {', '.join(unknown)}")
        return dataclasses.replace(self, **changes)


class DecodingOptions(TypedDict, total=False):
    """`DecodingSettings` as keyword arguments (each one optional): see its attributes."""

    constrained: bool
    max_new_tokens: int
    temperature: float
    retry_temperature: float
    cache_sessions: int
    batch_size: int
    share_prefixes: bool


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, not {value!r}")


def _check_int(name: str, value: object, *, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise UsageError(f"{name} must be an integer >= {least}, not {value!r}")


def _check_temperature(name: str, value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise UsageError(f"{name} must be a finite number >= 0, not {value!r}")
