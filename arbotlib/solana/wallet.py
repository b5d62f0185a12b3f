"""A Solana keypair that signs and never shows its secret.

The key comes from a ``Secret`` reference (``env:NAME`` or ``file:PATH``) whose value is either a
solana-keygen JSON file's content (an array of 64 integers) or a base58 secret key, or straight
from a solana-keygen key file (:meth:`Wallet.from_key_file`). A key file readable by group or
others is refused, as OpenSSH refuses an unprotected private key.

Only the public key appears in ``repr``/``str``, logs and exceptions; every error raised while
reading a key is a fresh one with no cause or context attached, so a traceback cannot quote it.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path

from solders.keypair import Keypair
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from bot.api import Secret
from bot.api.kit import REDACTOR


class WalletError(ValueError):
    """The key could not be loaded; the message never contains key material."""


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that group or others may read or write (the OpenSSH rule)."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise WalletError(f"cannot read key file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise WalletError(
            f"key file {path} is accessible by group or others (mode {stat.S_IMODE(mode):o}); "
            f"it is refused, as OpenSSH refuses an unprotected private key. Run: chmod 600 {path}"
        )


def _parse_key(text: str, where: str) -> Keypair:
    """A keypair from a solana-keygen JSON array or a base58 string; errors name ``where``, never the text."""
    text = text.strip()
    keypair: Keypair | None = None
    failure = ""
    if text.startswith("["):
        try:
            values = json.loads(text)
            if not (isinstance(values, list) and len(values) == 64 and all(isinstance(v, int) for v in values)):
                failure = "a solana-keygen key file holds a JSON array of 64 integers"
            else:
                keypair = Keypair.from_bytes(bytes(values))
        except (ValueError, TypeError):
            failure = "not a valid solana-keygen JSON key (an array of 64 integers 0-255)"
    else:
        try:
            keypair = Keypair.from_base58_string(text)
        except BaseException as exc:  # solders raises a pyo3 PanicException (a BaseException) on bad input
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            failure = "not a valid base58 secret key (64 bytes) nor a solana-keygen JSON array"
    if keypair is None:
        raise WalletError(f"{where}: {failure}")
    return keypair


class Wallet:
    """Signs transactions with one keypair; shows only its public key."""

    __slots__ = ("_keypair", "pubkey")

    def __init__(self, keypair: Keypair):
        self._keypair = keypair
        self.pubkey: Pubkey = keypair.pubkey()
        # the redactor masks the secret in any log line that would still quote it
        REDACTOR.add(str(keypair))
        REDACTOR.add(json.dumps(list(bytes(keypair))))
        REDACTOR.add(json.dumps(list(bytes(keypair)), separators=(",", ":")))

    @classmethod
    def from_secret(cls, secret: Secret) -> Wallet:
        """From a resolved (or resolvable) ``Secret``: base58 secret key or solana-keygen JSON array."""
        try:
            value = secret.reveal()
        except RuntimeError:
            try:
                secret.resolve()
            except ValueError as exc:
                raise WalletError(str(exc)) from None
            value = secret.reveal()
        return cls(_parse_key(value, f"secret {secret.reference}"))

    @classmethod
    def from_key_file(cls, path: str | Path) -> Wallet:
        """From a solana-keygen JSON key file, refused when group or others can access it."""
        path = Path(path).expanduser()
        check_key_file_mode(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise WalletError(f"cannot read key file {path}: {exc.strerror}") from None
        return cls(_parse_key(text, f"key file {path}"))

    @classmethod
    def load(cls, reference: Secret | str) -> Wallet:
        """From a ``Secret`` (``env:``/``file:``) or a key file path; a ``file:`` secret is checked by ``Secret``."""
        if isinstance(reference, Secret):
            return cls.from_secret(reference)
        return cls.from_key_file(reference)

    def sign(self, unsigned: VersionedTransaction) -> VersionedTransaction:
        """Sign ``unsigned`` (whose only required signer is this wallet) and check the signature."""
        message = unsigned.message
        signers = message.account_keys[: message.header.num_required_signatures]
        if signers != [self.pubkey]:
            raise WalletError(
                f"transaction expects signers {[str(s) for s in signers]}, this wallet is {self.pubkey}"
            )
        signed = VersionedTransaction(message, [self._keypair])
        if not all(signed.verify_with_results()):
            raise WalletError("signature did not verify")
        return signed

    def __repr__(self) -> str:
        return f"Wallet(pubkey={self.pubkey})"

    __str__ = __repr__

    def __reduce__(self):  # pickling would copy the secret out of the process
        raise TypeError("a Wallet cannot be pickled")
