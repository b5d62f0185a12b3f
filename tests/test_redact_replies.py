"""Command replies leave masked: :meth:`Redactor.redact_data`, and the command table applying it to every reply it
returns (the one place every chat transport's, ``arbot ctl``'s and fleet link's answer passes)."""

from __future__ import annotations

from decimal import Decimal

from bot import hookimpl
from bot.api import Caller, Command, Reply, Secret
from bot.redact import MASK, Redactor

KEY = "sk-live-reply-0123456789"
ADMIN = Caller("test", "root", "admin")


def test_redact_data_masks_every_string_and_keeps_shapes_and_numbers():
    redactor = Redactor()
    redactor.add(KEY)
    redactor.add_url_password("pw")
    data = {"rows": [("o1", f"401 for ?apikey={KEY}")], KEY: Decimal("1.5"), "n": 3, "none": None,
            "url": "nats://arbot:pw@h:4222", "other": ValueError(KEY)}
    clean = redactor.redact_data(data)
    assert clean == {"rows": [("o1", f"401 for ?apikey={MASK}")], MASK: Decimal("1.5"), "n": 3, "none": None,
                     "url": f"nats://arbot:{MASK}@h:4222", "other": MASK}
    assert isinstance(clean["rows"][0], tuple)
    assert data["rows"][0][1].endswith(KEY)  # a copy: the caller's data is left as it was


def test_redact_data_returns_the_same_object_when_nothing_is_to_be_masked():
    redactor = Redactor()
    data = {"rows": [("o1", "EOrder:Insufficient funds")], "n": Decimal(1)}
    assert redactor.redact_data(data) is data  # no secret known
    redactor.add(KEY)
    assert redactor.redact_data(data) is data  # none in it
    mixed = {"clean": ["a", "b"], "dirty": [KEY]}
    out = redactor.redact_data(mixed)
    assert out == {"clean": ["a", "b"], "dirty": [MASK]} and out["clean"] is mixed["clean"]


class Leaky:
    """Commands whose replies quote the key everywhere a reply holds text, and one that quotes nothing."""

    clean = Reply("Fine", rows=[("a", "b")], text="nothing to hide", data={"n": "1"})

    @staticmethod
    @hookimpl
    def register_commands(register):
        async def leak(op, caller, args):
            return Reply(f"refused: {KEY}", rows=[("reason", f"?apikey={KEY}")], text=f"see {KEY}",
                         data={"summary": {"reason": KEY}})

        async def fine(op, caller, args):
            return Leaky.clean

        register(Command("leak", leak, "viewer", "quotes a secret"))
        register(Command("fine", fine, "viewer", "quotes nothing"))
        register(Command("arm", leak, "admin", "confirmed first", confirm=lambda op, args: f"Arm with {KEY}?"))


async def test_every_reply_the_command_table_returns_is_masked(make_bot, monkeypatch):
    monkeypatch.setenv("ARBOT_AUDIT_REPLY_KEY", KEY)
    Secret("env:ARBOT_AUDIT_REPLY_KEY").resolve()
    bot = await make_bot("", extra=[("leaky", Leaky)])
    reply = await bot.commands.dispatch(ADMIN, "leak", [])
    assert KEY not in repr(reply), reply
    assert (reply.title, reply.rows, reply.text, dict(reply.data)) == (
        f"refused: {MASK}", [("reason", f"?apikey={MASK}")], f"see {MASK}", {"summary": {"reason": MASK}})
    question = await bot.commands.dispatch(ADMIN, "arm", [])
    assert question.title == f"Arm with {MASK}?" and question.confirm_token
    done = await bot.commands.confirm(ADMIN, question.confirm_token)
    assert done.ok and KEY not in repr(done)
    assert await bot.commands.dispatch(ADMIN, "fine", []) is Leaky.clean  # nothing to mask: no copy
