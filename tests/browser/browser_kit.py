"""What the browser tests share besides fixtures: the running console and the steps a person takes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.api.testing import BotUnderTest
from tests.fakes.kraken import FakeKrakenWS

TOKENS = {"alice": "alice-admin-token-for-browser-tests", "oscar": "oscar-operator-token-for-browser-tests",
          "vera": "vera-viewer-token-for-browser-tests"}
ROLES = {"alice": "admin", "oscar": "operator", "vera": "viewer"}


@dataclass
class Console:
    """A running bot with its console: what the tests drive."""

    bot: BotUnderTest
    url: str
    kraken: FakeKrakenWS
    shots: Path

    def token(self, user: str) -> str:
        return TOKENS[user]


async def login(page, console: Console, user: str) -> None:
    """Open the console and log in through the form, as a person would."""
    await page.goto("/")
    await page.get_by_label("Token").fill(console.token(user))
    await page.get_by_role("button", name="Log in").click()
    await page.wait_for_selector(f"#whoami:has-text('{user}')")


async def shot(page, console: Console, name: str) -> Path:
    """A full-page screenshot NAME.png in the screenshots folder, for a person to look at."""
    path = console.shots / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
