"""``base_url`` is checked by the host's one URL validator (``option(url="rest")``), as the venues' URLs are: each
case below is one where the hand-written check it replaced (``startswith(("http://", "https://"))``) answered
otherwise, and every refusal names the key."""

from __future__ import annotations

import dataclasses

import pytest

from bot.settings import ConfigIssue, parse_settings
from plugins.telegram.settings import PUBLIC_BOT_API, TelegramSettings

PATH = "notifiers.tg"
EXPECTED = f'{PATH}.base_url: expected a URL https:// (or http:// to 127.0.0.1 or localhost), got '


def issues_of(base_url: str) -> list[str]:
    issues: list[ConfigIssue] = []
    parse_settings(TelegramSettings, {"token": "env:X", "base_url": base_url}, PATH, issues)
    return [str(issue) for issue in issues]


REFUSED = [
    # the bot token is part of every request's path (/bot<TOKEN>/getUpdates): in the clear only to this machine
    ("http://bot-api.example.org:8081", '"http://bot-api.example.org:8081" (http:// only to 127.0.0.1 or localhost '
                                        "(a local fake): use https://)"),
    ("https://", '"https://" (no host)'),
    ("https://[::1/bot", '"https://[::1/bot" (not a URL)'),
]


@pytest.mark.parametrize(("url", "shown"), REFUSED, ids=[url for url, _ in REFUSED])
def test_base_url_refuses_a_url_the_hand_written_check_took(url, shown):
    assert issues_of(url) == [EXPECTED + shown]


def test_base_url_refused_for_its_scheme_names_the_key_and_the_schemes_it_takes():
    """Refused before too, as "expected an http(s) URL", which did not say that plain http is for this machine."""
    assert issues_of("ftp://bot-api.example.org") == [
        EXPECTED + '"ftp://bot-api.example.org" (the scheme ftp:// is not one it takes)']


@pytest.mark.parametrize("url", ["HTTPS://api.telegram.org", "Http://127.0.0.1:8081"])
def test_base_url_takes_a_scheme_in_capitals_as_the_venues_urls_do(url):
    """A URL's scheme is case-insensitive (RFC 3986); the hand-written check refused these."""
    assert issues_of(url) == []


@pytest.mark.parametrize("url", [PUBLIC_BOT_API, "http://localhost:8081", "http://[::1]:8081",
                                 "http://proxy:secret@127.0.0.1:8081"])
def test_base_url_takes_the_public_server_and_a_local_one(url):
    assert issues_of(url) == []


def test_base_url_is_declared_a_rest_url():
    """The host's validator checks it (and ``arbot config`` describes it) only if the option says what it is."""
    (field,) = [f for f in dataclasses.fields(TelegramSettings) if f.name == "base_url"]
    assert field.metadata.get("url") == "rest"


def test_a_refused_base_url_is_quoted_without_its_password():
    password = "Pr0xyPassw0rd-0123"
    (issue,) = issues_of(f"http://proxy:{password}@bot-api.example.org:8081")
    assert password not in issue and "proxy:***@bot-api.example.org" in issue, issue
