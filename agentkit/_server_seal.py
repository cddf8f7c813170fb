"""Sealing a paused run's state for the client: readable and alterable by the server only.

A state holds the whole transcript of its run: the agent's system prompt and every tool result,
which a client of the server does not otherwise see. So the server hands it out sealed with
AES-256-GCM (the `cryptography` package): encrypted and authenticated under a key derived from
the server's state key with HKDF-SHA256, with a fresh 12-byte random nonce per token and the
version prefix as associated data. The state is never compressed first (compression would leak
its content through the token's length).

A token is `aks2.` followed by the URL-safe base64 (no padding) of the nonce and the ciphertext.
"""

from __future__ import annotations

import base64
import binascii
import secrets

from agentkit.errors import ModelNotAvailableError, RunStateError

__all__ = ["PREFIX", "StateSeal"]

PREFIX = "aks2."
_NONCE = 12


class StateSeal:
    """Seals and opens state tokens with one key.

    Example:
        >>> seal = StateSeal(b"a server key of at least 16 bytes")
        >>> token = seal.seal('{"secret": 1}')
        >>> "secret" in token, seal.open(token)
        (False, '{"secret": 1}')
    """

    def __init__(self, key: bytes) -> None:
        try:
            from cryptography.hazmat.primitives import hashes
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM
            from cryptography.hazmat.primitives.kdf.hkdf import HKDF
        except ImportError as exc:  # pragma: no cover - a dependency of agentkit[serve]
            raise ModelNotAvailableError(
                "sealing run states needs the 'cryptography' package: pip install 'agentkit[serve]'"
            ) from exc
        derived = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=b"agentkit serve run state"
        ).derive(key)
        self._aead = AESGCM(derived)

    def seal(self, text: str) -> str:
        """The token of `text`: encrypted and authenticated."""
        nonce = secrets.token_bytes(_NONCE)
        sealed = nonce + self._aead.encrypt(nonce, text.encode(), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(sealed).decode("ascii").rstrip("=")

    def open(self, token: str) -> str:
        """The text a token seals.

        Raises:
            RunStateError: not a token, or one altered or sealed with another key (the message
                never repeats the token).
        """
        from cryptography.exceptions import InvalidTag

        if not token.startswith(PREFIX):
            raise RunStateError("the run state is not a state this server issued")
        body = token[len(PREFIX) :]
        try:
            raw = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_", validate=True)
        except (binascii.Error, ValueError):
            raise RunStateError("the run state is not a state this server issued") from None
        if len(raw) <= _NONCE:
            raise RunStateError("the run state is not a state this server issued")
        try:
            plain = self._aead.decrypt(raw[:_NONCE], raw[_NONCE:], PREFIX.encode())
        except InvalidTag:
            raise RunStateError(
                "the run state was altered, or issued under another state key: its seal does "
                "not match"
            ) from None
        try:
            return plain.decode()
        except UnicodeDecodeError:  # cannot happen with an authentic token
            raise RunStateError("the run state cannot be read") from None
