"""Every KV cache kept on one set of weights: each run's session and the shared prompt prefixes.

A run's session is the cache of its last turn (prompt and reply), reused by its next turn up to
the longest common token prefix. The prefix cache keeps copies of recent prompts' caches, so a
new run that begins like an earlier one (the same system prompt and function list) prefills only
the rest. Both live in one `KVStore`, owned by the loaded weights (`agentkit.models._local`),
whichever `TransformersModel` runs on them.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KVStore",
    "PrefixCache",
    "Session",
    "clone_prefix",
    "common_prefix",
    "crop",
    "plain_layers",
]


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def crop(cache: Any, length: int) -> None:
    """Cut a cache back to its first `length` tokens (transformers 5 takes a negative count)."""
    extra = int(cache.get_seq_length()) - length
    if extra > 0:
        cache.crop(-extra)


def plain_layers(cache: Any) -> bool:
    """Whether a cache holds plain full-attention layers (it can be sliced, cloned, batched)."""
    from transformers.cache_utils import DynamicLayer

    layers: list[Any] = getattr(cache, "layers", None) or []
    return bool(layers) and all(type(layer) is DynamicLayer for layer in layers)


def clone_prefix(cache: Any, length: int, config: Any) -> Any:
    """A new cache holding a copy of the first `length` positions of `cache`."""
    from transformers import DynamicCache

    # A new cache concatenates what it is given: these slices are copied, not shared.
    data = [(layer.keys[:, :, :length], layer.values[:, :, :length]) for layer in cache.layers]
    return DynamicCache(ddp_cache_data=data, config=config)


@dataclass
class Session:
    """A run's KV cache and the tokens it holds."""

    tokens: list[int]
    cache: Any


class PrefixCache:
    """The KV caches of recent prompts, for new runs that begin with the same tokens.

    The runs of one agent share a long prefix: the system prompt with the function list. A new
    run's first turn copies the cache of the longest matching prefix and prefills only the rest
    (usually the user's message). Entries are copies, so the runs they came from are untouched.

    Args:
        size: how many prompts to keep (0: none).
        min_tokens: the shortest shared prefix worth a copy.
        max_tokens: the most tokens kept in all (older prompts go first; a longer prompt is
            not kept): this bounds the memory the copies take.
    """

    def __init__(self, size: int = 4, min_tokens: int = 16, max_tokens: int = 8192) -> None:
        self.size = size
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self._entries: list[tuple[list[int], Any]] = []
        self._lock = threading.Lock()

    def lookup(self, prompt: list[int], config: Any) -> tuple[list[int], Any] | None:
        """The tokens and a private copy of the cache of the longest stored prefix of `prompt`."""
        with self._lock:
            best, found = 0, None
            for entry in self._entries:
                n = common_prefix(entry[0], prompt)
                if n > best:
                    best, found = n, entry
            if found is None or best < self.min_tokens:
                return None
            self._entries.remove(found)
            self._entries.append(found)  # most recently used last
        return found[0][:best], clone_prefix(found[1], best, config)

    def store(self, prompt: list[int], cache: Any, config: Any) -> None:
        """Keep a copy of `cache`, which holds `prompt`."""
        if not self.min_tokens <= len(prompt) <= self.max_tokens or self.size <= 0:
            return
        if not plain_layers(cache):
            return
        copy = clone_prefix(cache, len(prompt), config)
        with self._lock:
            # An entry that is a prefix of this prompt adds nothing any more.
            self._entries = [e for e in self._entries if common_prefix(e[0], prompt) < len(e[0])]
            self._entries.append((list(prompt), copy))
            del self._entries[: -self.size]
            while sum(len(tokens) for tokens, _ in self._entries) > self.max_tokens:
                del self._entries[0]


class KVStore:
    """The KV caches kept on one set of weights: runs' sessions and the shared prefixes.

    A turn takes its run's session out (so no other turn can use it meanwhile), generates, and
    keeps the new cache under the run id; `release` drops it when the run ends. Sessions are
    kept in least-recently-used order, so an abandoned run's cache is evicted first.

    Args:
        prefixes: the prefix cache (a default `PrefixCache` when None).
    """

    def __init__(self, prefixes: PrefixCache | None = None) -> None:
        self.prefixes = prefixes if prefixes is not None else PrefixCache()
        self._sessions: collections.OrderedDict[str, Session] = collections.OrderedDict()
        self._lock = threading.Lock()

    def take(self, run_id: str) -> Session | None:
        """Remove and return the run's session, if one is kept."""
        with self._lock:
            return self._sessions.pop(run_id, None)

    def keep(self, run_id: str, session: Session, *, limit: int) -> None:
        """Keep `session` for the run's next turn, evicting the oldest beyond `limit` sessions."""
        with self._lock:
            self._sessions[run_id] = session
            self._sessions.move_to_end(run_id)
            while len(self._sessions) > max(limit, 0):
                self._sessions.popitem(last=False)

    def release(self, run_id: str) -> None:
        """Drop the run's session (the run has ended)."""
        with self._lock:
            self._sessions.pop(run_id, None)

    def run_ids(self) -> list[str]:
        """The runs whose sessions are kept, oldest first."""
        with self._lock:
            return list(self._sessions)
