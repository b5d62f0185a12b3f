"""The stream's wire protocol: frames, the signed challenge and keys (events: ``bot.api.kit.to_data``).

Shared by the server, the Python client and ``arbot watch``; docs/stream.md describes it for
clients in other languages. Frames are JSON text; amounts are decimal strings, times integer ns.
"""

from __future__ import annotations

import base64
import json
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.api.kit import loads_limited

if TYPE_CHECKING:
    from nacl.signing import SigningKey, VerifyKey

# PyNaCl (with cffi and libsodium, about 1 MB) is imported by the functions that use a key: the settings read a
# key's text in every process that reads a config (`arbot run`), most of which never use the stream.

PROTOCOL = "arbot-stream/1"
CHANNELS = ("orders", "fills", "portfolio", "opportunities", "alerts", "status")

# close codes (4000-4999 are the application's own)
CLOSE_AUTH_FAILED = 4001
CLOSE_TOO_MANY_CONNECTIONS = 4003
CLOSE_SLOW_CONSUMER = 4008
CLOSE_TOO_MANY_MESSAGES = 4029


def challenge_payload(nonce: str, ts_ns: int) -> bytes:
    """The exact bytes a client signs: protocol name, nonce and the server's timestamp."""
    return f"{PROTOCOL}\nauth\n{nonce}\n{ts_ns}".encode()


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), default=str)


def loads(text: str | bytes) -> dict[str, Any]:
    """Parse a frame; numbers with a fraction become Decimal so no amount passes through a float."""
    frame = loads_limited(text, parse_float=Decimal)  # depth checked first: never a RecursionError
    if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
        raise ValueError('a frame is a JSON object with a string "type"')
    return frame


# --- keys ------------------------------------------------------------------------------------


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def public_key_of(signing_key: SigningKey) -> str:
    """The base64 public key that goes into ``[plugins.stream] clients``."""
    return b64(bytes(signing_key.verify_key))


def parse_public_key(text: str) -> VerifyKey:
    """A base64 Ed25519 public key; raises ValueError when it is not one."""
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("not base64") from None
    if len(raw) != 32:
        raise ValueError(f"an Ed25519 public key is 32 bytes, this is {len(raw)}")
    from nacl.signing import VerifyKey

    return VerifyKey(raw)


def verify(key: VerifyKey, payload: bytes, signature_b64: str) -> bool:
    from nacl.exceptions import BadSignatureError

    try:
        key.verify(payload, base64.b64decode(signature_b64, validate=True))
    except (BadSignatureError, ValueError):
        return False
    return True


def sign(signing_key: SigningKey, payload: bytes) -> str:
    return b64(signing_key.sign(payload).signature)


def write_key_pair(path: Path) -> SigningKey:
    """Make a key pair: the private seed in ``path`` (mode 0600, never overwritten), the public key in ``path.pub``."""
    from nacl.signing import SigningKey

    key = SigningKey.generate()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(b64(bytes(key)) + "\n")
    Path(f"{path}.pub").write_text(public_key_of(key) + "\n")
    return key


def read_signing_key(path: Path) -> SigningKey:
    """Load a private key file written by ``arbot keygen``; refuse one readable by others."""
    mode = path.stat().st_mode
    if mode & 0o077:
        raise ValueError(f"key file {path} is readable by group or others (mode {mode & 0o777:o}); "
                         f"run: chmod 600 {path}")
    raw = base64.b64decode(path.read_text().strip(), validate=True)
    if len(raw) != 32:
        raise ValueError(f"key file {path} does not hold a 32-byte Ed25519 seed")
    from nacl.signing import SigningKey

    return SigningKey(raw)
