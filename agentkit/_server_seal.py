"""Sealing a paused run's state for the client: readable and alterable by the server only.

A state holds the whole transcript of its run: the agent's system prompt and every tool result,
which a client of the server does not otherwise see. So the server hands it out sealed:
encrypted, then authenticated (encrypt-then-MAC), with two keys derived from the server's state
key by HMAC-SHA256 under distinct labels:

- the cipher is SHAKE-256 keyed with the 32-byte cipher key and a fresh 16-byte random nonce,
  used as a keystream XORed with the state (a keyed extendable-output function as a stream
  cipher); the state is never compressed first (compression would leak its content through the
  token's length);
- the tag is HMAC-SHA256 over the version prefix, the nonce and the ciphertext, checked in
  constant time before anything is decrypted.

A token is `aks1.` followed by the URL-safe base64 (no padding) of nonce, ciphertext and tag.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from agentkit.errors import RunStateError

__all__ = ["PREFIX", "StateSeal"]

PREFIX = "aks1."
_NONCE = 16
_TAG = 32


class StateSeal:
    """Seals and opens state tokens with one key.

    Example:
        >>> seal = StateSeal(b"a server key of at least 16 bytes")
        >>> token = seal.seal('{"secret": 1}')
        >>> "secret" in token, seal.open(token)
        (False, '{"secret": 1}')
    """

    def __init__(self, key: bytes) -> None:
        self._cipher_key = _derive(key, b"agentkit serve state: cipher")
        self._mac_key = _derive(key, b"agentkit serve state: mac")

    def seal(self, text: str) -> str:
        """The token of `text`: encrypted and authenticated."""
        nonce = secrets.token_bytes(_NONCE)
        plain = text.encode()
        sealed = nonce + _xor(plain, self._keystream(nonce, len(plain)))
        token = sealed + self._tag(sealed)
        return PREFIX + base64.urlsafe_b64encode(token).decode("ascii").rstrip("=")

    def open(self, token: str) -> str:
        """The text a token seals.

        Raises:
            RunStateError: not a token, or one altered or sealed with another key (the message
                never repeats the token).
        """
        if not token.startswith(PREFIX):
            raise RunStateError("the run state is not a state this server issued")
        body = token[len(PREFIX) :]
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise RunStateError("the run state is not a state this server issued") from None
        sealed, tag = raw[:-_TAG], raw[-_TAG:]
        if len(sealed) < _NONCE or not hmac.compare_digest(tag, self._tag(sealed)):
            raise RunStateError(
                "the run state was altered, or issued under another state key: its seal does "
                "not match"
            )
        nonce, cipher = sealed[:_NONCE], sealed[_NONCE:]
        try:
            return _xor(cipher, self._keystream(nonce, len(cipher))).decode()
        except UnicodeDecodeError:  # cannot happen with an authentic token
            raise RunStateError("the run state cannot be read") from None

    def _keystream(self, nonce: bytes, size: int) -> bytes:
        return hashlib.shake_256(self._cipher_key + nonce).digest(size)

    def _tag(self, sealed: bytes) -> bytes:
        return hmac.new(self._mac_key, PREFIX.encode() + sealed, hashlib.sha256).digest()


def _derive(key: bytes, label: bytes) -> bytes:
    return hmac.new(key, label, hashlib.sha256).digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    if not data:
        return b""
    mixed = int.from_bytes(data, "big") ^ int.from_bytes(stream, "big")
    return mixed.to_bytes(len(data), "big")
