"""``api_base`` and ``gateway_url`` are checked by the host's one URL validator (``option(url="rest")`` and
``option(url="ws")``), as the venues' URLs are: each case below is one where the hand-written checks they replaced
(``startswith(("http://", "https://"))``, ``startswith(("ws://", "wss://"))``) answered otherwise, and every refusal
names the key."""

from __future__ import annotations

import dataclasses

import pytest

from bot.settings import ConfigIssue, parse_settings
from plugins.discord.settings import PUBLIC_API_BASE, PUBLIC_GATEWAY, DiscordSettings

PATH = "notifiers.dc"
FORM = {"api_base": "https:// (or http:// to 127.0.0.1 or localhost)",
        "gateway_url": "wss:// (or ws:// to 127.0.0.1 or localhost)"}


def issues_of(key: str, url: str) -> list[str]:
    issues: list[ConfigIssue] = []
    parse_settings(DiscordSettings, {"token": "env:X", key: url}, PATH, issues)
    return [str(issue) for issue in issues]


def refusal(key: str, shown: str) -> str:
    return f"{PATH}.{key}: expected a URL {FORM[key]}, got {shown}"


REFUSED = [
    # the bot token goes in every request's header and the gateway's IDENTIFY: in the clear only to this machine
    ("api_base", "http://proxy.example.org/api",
     '"http://proxy.example.org/api" (http:// only to 127.0.0.1 or localhost (a local fake): use https://)'),
    ("gateway_url", "ws://proxy.example.org/gw",
     '"ws://proxy.example.org/gw" (ws:// only to 127.0.0.1 or localhost (a local fake): use wss://)'),
    ("api_base", "https://", '"https://" (no host)'),
    ("gateway_url", "wss://", '"wss://" (no host)'),
    ("api_base", "https://[::1/api", '"https://[::1/api" (not a URL)'),
    ("gateway_url", "wss://[::1/gw", '"wss://[::1/gw" (not a URL)'),
]


@pytest.mark.parametrize(("key", "url", "shown"), REFUSED, ids=[f"{key}={url}" for key, url, _ in REFUSED])
def test_a_url_the_hand_written_checks_took_is_refused_naming_the_key(key, url, shown):
    assert issues_of(key, url) == [refusal(key, shown)]


@pytest.mark.parametrize(("key", "url"), [("api_base", "wss://discord.com/api/v10"),
                                          ("gateway_url", "https://gateway.discord.gg/")])
def test_a_url_refused_for_its_scheme_names_the_key_and_the_schemes_it_takes(key, url):
    """Refused before too, as "expected an http(s) URL" / "a ws(s) URL", which did not say that the plain schemes
    are for this machine."""
    assert issues_of(key, url) == [refusal(key, f'"{url}" (the scheme {url.split(":")[0]}:// is not one it takes)')]


@pytest.mark.parametrize(("key", "url"), [("api_base", "HTTPS://discord.com/api/v10"),
                                          ("gateway_url", "WSS://gateway.discord.gg/"),
                                          ("gateway_url", "Ws://127.0.0.1:9000/")])
def test_a_scheme_in_capitals_is_taken_as_the_venues_urls_take_it(key, url):
    """A URL's scheme is case-insensitive (RFC 3986); the hand-written checks refused these."""
    assert issues_of(key, url) == []


@pytest.mark.parametrize(("key", "url"), [("api_base", PUBLIC_API_BASE), ("gateway_url", PUBLIC_GATEWAY),
                                          ("api_base", "http://127.0.0.1:8080/api/v10"),
                                          ("gateway_url", "ws://localhost:9000/")])
def test_the_public_endpoints_and_a_local_fake_are_taken(key, url):
    assert issues_of(key, url) == []


def test_both_endpoints_are_declared_urls_of_their_kind():
    """The host's validator checks them (and ``arbot config`` describes them) only if the options say what they are."""
    kinds = {f.name: f.metadata.get("url") for f in dataclasses.fields(DiscordSettings)}
    assert (kinds["api_base"], kinds["gateway_url"]) == ("rest", "ws")


def test_a_refused_url_is_quoted_without_its_password():
    password = "Pr0xyPassw0rd-0123"
    found = issues_of("api_base", f"ftp://bot:{password}@proxy.example/api") + \
        issues_of("gateway_url", f"https://bot:{password}@proxy.example/gw")
    assert len(found) == 2 and all(password not in text and "bot:***@proxy.example" in text for text in found), found
