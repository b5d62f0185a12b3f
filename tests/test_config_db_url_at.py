"""A database URL whose password holds an unencoded "@": refused, naming bot.db_url and the fix, the password never
shown. Generated passwords often hold "@"; before, SQLAlchemy read the part of the password after it as the host,
so arbot connected to the wrong host and every message printed that part: for the password "pa@ss/w#rd?x",
"store postgresql://arbot:***@ss/w#rd?x@127.0.0.1:5999/arbot: cannot connect: failed to resolve host 'ss'"."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.helpers.processes import arbot as arbot_command

PASSWORD = "pa@ss/w#rd?x"


@pytest.mark.parametrize("command", [["check-config", "c.toml"], ["run", "-c", "c.toml", "--for", "1s"],
                                     ["report", "-c", "c.toml"], ["db", "current", "-c", "c.toml"]])
def test_an_unencoded_at_in_the_password_is_refused_naming_the_key_and_never_showing_it(tmp_path, command):
    (tmp_path / "c.toml").write_text('[bot]\ndb_url = "env:NU_DB_URL"\nstore_wait_s = 0\n')
    env = {**os.environ, "NU_DB_URL": f"postgresql://arbot:{PASSWORD}@127.0.0.1:9/arbot"}
    out = subprocess.run(arbot_command(*command), cwd=tmp_path, capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 2, (out.returncode, out.stderr)
    assert ('  - bot.db_url: the URL holds more than one "@": percent-encode "@" in the password as %40 (and "%" as '
            "%25); as written, the part of the password after its first \"@\" would be read as the host") in out.stderr
    for piece in ("ss/w", "w#rd", "rd?x"):
        assert piece not in out.stderr + out.stdout, out.stderr


def test_a_percent_encoded_password_is_accepted(tmp_path):
    (tmp_path / "c.toml").write_text('[bot]\ndb_url = "env:NU_DB_URL"\n')
    env = {**os.environ, "NU_DB_URL": "postgresql://arbot:pa%40ss%2Fw%23rd%3Fx@127.0.0.1:9/arbot"}
    out = subprocess.run(arbot_command("check-config", "c.toml"), cwd=tmp_path, capture_output=True, text=True,
                         timeout=60, env=env)
    assert out.returncode == 0, out.stderr


def test_such_a_password_is_still_masked_where_a_report_prints_stored_text(tmp_path):
    """`arbot report --bot-config` and `arbot replay -c` learn a config's secrets to mask them; the refused URL's
    password is learnt whole, not only the part before its "@"."""
    from bot.cli import prepare
    from bot.config import learn_secrets
    from bot.redact import REDACTOR

    password = "nu@ser/pass#word?9"
    (tmp_path / "c.toml").write_text(f'[bot]\ndb_url = "postgresql://arbot:{password}@127.0.0.1:9/arbot"\n')
    _, _, config = prepare(tmp_path / "c.toml", secrets=False)
    assert learn_secrets(config) == ["bot.db_url"]
    assert REDACTOR.redact(f"an old row quoting {password} and ser/pass#word?9") == \
        "an old row quoting *** and ser/pass#word?9"
