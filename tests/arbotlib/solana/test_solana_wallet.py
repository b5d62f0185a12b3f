"""The wallet: keys from solana-keygen files and base58 secrets; the secret never shows."""

from __future__ import annotations

import json
import logging
import os

import pytest
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from arbotlib.solana.wallet import Wallet, WalletError
from bot.settings import Secret


def _key_file(tmp_path, kp: Keypair, mode: int):
    path = tmp_path / "id.json"
    path.write_text(json.dumps(list(bytes(kp))))
    os.chmod(path, mode)
    return path


def _unsigned(payer: Pubkey) -> VersionedTransaction:
    ix = transfer(TransferParams(from_pubkey=payer, to_pubkey=Pubkey.new_unique(), lamports=1))
    message = MessageV0.try_compile(payer, [ix], [], Hash.default())
    return VersionedTransaction.populate(message, [Signature.default()])


def test_key_file_0600_loads_and_signs(tmp_path):
    kp = Keypair()
    wallet = Wallet.from_key_file(_key_file(tmp_path, kp, 0o600))
    assert wallet.pubkey == kp.pubkey()
    signed = wallet.sign(_unsigned(kp.pubkey()))
    assert all(signed.verify_with_results())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused(tmp_path, mode):
    path = _key_file(tmp_path, Keypair(), mode)
    with pytest.raises(WalletError, match=r"accessible by group or others.*chmod 600"):
        Wallet.from_key_file(path)


def test_file_secret_reference_is_refused_when_open(tmp_path):
    path = _key_file(tmp_path, Keypair(), 0o644)
    with pytest.raises(WalletError, match="readable by group or others"):
        Wallet.from_secret(Secret(f"file:{path}"))


def test_base58_and_json_secrets_from_env(monkeypatch):
    kp = Keypair()
    monkeypatch.setenv("T_WALLET_B58", str(kp))
    monkeypatch.setenv("T_WALLET_JSON", json.dumps(list(bytes(kp))))
    assert Wallet.from_secret(Secret("env:T_WALLET_B58")).pubkey == kp.pubkey()
    assert Wallet.from_secret(Secret("env:T_WALLET_JSON")).pubkey == kp.pubkey()


def test_secret_never_in_repr_logs_or_exceptions(monkeypatch, caplog, tmp_path):
    kp = Keypair()
    secret_b58 = str(kp)
    secret_json = json.dumps(list(bytes(kp)))
    monkeypatch.setenv("T_WALLET", secret_b58)
    caplog.set_level(logging.DEBUG)
    wallet = Wallet.from_secret(Secret("env:T_WALLET"))
    logging.getLogger("arbot.test").debug("wallet %r %s", wallet, wallet)
    texts = [repr(wallet), str(wallet), caplog.text]
    assert str(kp.pubkey()) in repr(wallet)
    # bad inputs: the messages name the reference, never the value
    for bad in (secret_b58[:-3], secret_json[:-5] + "]", "[" + ",".join(["300"] * 64) + "]"):
        monkeypatch.setenv("T_BAD", bad)
        with pytest.raises(WalletError) as info:
            Wallet.from_secret(Secret("env:T_BAD"))
        texts += [str(info.value), repr(info.value)]
        assert info.value.__cause__ is None and info.value.__context__ is None  # no chained parse error
    with pytest.raises(WalletError) as info:
        wallet.sign(_unsigned(Pubkey.new_unique()))
    texts.append(str(info.value))
    for text in texts:
        assert secret_b58 not in text and secret_json not in text and secret_b58[:20] not in text
    with pytest.raises(TypeError):
        import pickle
        pickle.dumps(wallet)
