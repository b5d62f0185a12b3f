"""Every venue's URL settings refuse a wrong scheme when the config is read, naming the key and the schemes it takes
(one validator: ``option(url=...)`` in :mod:`bot.settings`)."""

from __future__ import annotations

import pytest

from bot.settings import ConfigIssue, option, parse_settings
from plugins.ccxt.settings import CcxtSettings
from plugins.coinbase.settings import CoinbaseSettings
from plugins.jupiter.settings import JupiterSettings
from plugins.kraken.settings import KrakenSettings
from plugins.orca.settings import OrcaSettings

JUP = {"keypair": "env:JUPITER_KEYPAIR"}
ORCA = {"pools": {"SOL/USDC": "Czfq3xZZDmsdGdUyrNLtRhGc47cXcZtLG4crryfu44zE"}}


def issues_of(cls, table: dict) -> list[str]:
    issues: list[ConfigIssue] = []
    parse_settings(cls, table, "exchanges.v", issues)
    return [str(issue) for issue in issues]


WRONG = [
    (KrakenSettings, {}, "rest_url", "ftp://api.kraken.com", "https://"),
    (KrakenSettings, {}, "ws_url", "http://ws.kraken.com/v2", "wss://"),
    (KrakenSettings, {}, "private_ws_url", "https://ws-auth.kraken.com/v2", "wss://"),
    (KrakenSettings, {}, "rest_url", "http://api.kraken.com", "http:// only to 127.0.0.1"),
    (CoinbaseSettings, {}, "rest_url", "wss://api.coinbase.com", "https://"),
    (CoinbaseSettings, {}, "ws_url", "https://advanced-trade-ws.coinbase.com", "wss://"),
    (CoinbaseSettings, {}, "user_ws_url", "ftp://x", "wss://"),
    (JupiterSettings, JUP, "api_url", "ws://lite-api.jup.ag/swap/v1", "https://"),
    (JupiterSettings, JUP, "rpc_urls", ["wss://api.mainnet-beta.solana.com"], "https://"),
    (OrcaSettings, ORCA, "rpc_urls", ["ftp://api.mainnet-beta.solana.com"], "https://"),
    (OrcaSettings, ORCA, "ws_urls", ["https://api.mainnet-beta.solana.com"], "wss://"),
    (CcxtSettings, {"id": "gate"}, "urls", {"https://api.gateio.ws": "ftp://127.0.0.1:8080"}, "https://"),
    (KrakenSettings, {}, "rest_url", "api.kraken.com", "https://"),  # no scheme at all
]


@pytest.mark.parametrize(("cls", "base", "key", "value", "named"), WRONG,
                         ids=[f"{c.__name__}.{k}={v}" for c, _, k, v, _ in WRONG])
def test_a_url_setting_refuses_a_wrong_scheme_naming_the_key_and_its_schemes(cls, base, key, value, named):
    found = issues_of(cls, {**base, key: value})
    print(found)
    assert len(found) == 1, found
    assert f"exchanges.v.{key}" in found[0] and named in found[0], found


RIGHT = [
    (KrakenSettings, {}, "rest_url", "http://127.0.0.1:8080"),  # the fakes
    (KrakenSettings, {}, "ws_url", "ws://127.0.0.1:9000/v2"),
    (KrakenSettings, {}, "ws_url", "ws://localhost:9000/v2"),
    (KrakenSettings, {}, "rest_url", "HTTPS://api.kraken.com"),
    (CoinbaseSettings, {}, "user_ws_url", "wss://advanced-trade-ws-user.coinbase.com"),
    (JupiterSettings, JUP, "rpc_urls", ["http://10.0.0.5:8899"]),  # an own Solana node on the LAN
    (OrcaSettings, ORCA, "ws_urls", ["ws://10.0.0.5:8900"]),
    (CcxtSettings, {"id": "gate"}, "urls", {"https://api.gateio.ws": "http://127.0.0.1:8080",
                                            "wss://api.gateio.ws": "ws://127.0.0.1:8081"}),
]


@pytest.mark.parametrize(("cls", "base", "key", "value"), RIGHT, ids=[f"{c.__name__}.{k}={v}" for c, _, k, v in RIGHT])
def test_a_url_setting_takes_its_schemes(cls, base, key, value):
    assert issues_of(cls, {**base, key: value}) == []


def test_every_url_setting_of_a_venue_declares_its_schemes():
    """A new ``*_url`` option without ``url=`` would take any scheme again."""
    import dataclasses

    for cls in (KrakenSettings, CoinbaseSettings, JupiterSettings, OrcaSettings, CcxtSettings):
        for f in dataclasses.fields(cls):
            if f.name.endswith(("_url", "_urls")) or f.name == "urls":
                assert f.metadata.get("url"), f"{cls.__name__}.{f.name}"


def test_an_unknown_url_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="url="):
        option("x", help="h", url="gopher")


def test_check_config_names_each_wrong_url_and_the_schemes_it_takes(tmp_path, capsys):
    from bot.cli import main

    path = tmp_path / "k.toml"
    path.write_text('[exchanges.kraken]\nrest_url = "ftp://api.kraken.com"\nws_url = "http://ws.kraken.com/v2"\n')
    assert main(["check-config", str(path)]) == 2
    err = capsys.readouterr().err
    assert ('exchanges.kraken.rest_url: expected a URL https:// (or http:// to 127.0.0.1 or localhost), got '
            '"ftp://api.kraken.com"') in err, err
    assert 'exchanges.kraken.ws_url: expected a URL wss:// (or ws:// to 127.0.0.1 or localhost)' in err, err
