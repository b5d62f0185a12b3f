"""A plugin's or a component's table written at the top level (``[web]``, ``[fleet]``, ``[kraken]``): the error
says where it goes. docs/web.md shows ``[plugins.web]``, but a new user writes ``[web]``; an old issue spoke of
``[fleet] nats_url``. Before, the answer was only "web: unknown key"."""

from __future__ import annotations

import pytest

from bot.cli import prepare
from bot.settings import ConfigError


@pytest.mark.parametrize("text, expected", [
    ("[web]\nenabled = true\n",
     "web: unknown key; did you mean [plugins.web]? (a plugin's settings are a [plugins.NAME] table)"),
    ('[fleet]\nnats_url = "nats://127.0.0.1:4222"\n',
     "fleet: unknown key; did you mean [plugins.fleet]? (a plugin's settings are a [plugins.NAME] table)"),
    ('[kraken]\nsymbols = ["BTC/USD"]\n',
     "kraken: unknown key; did you mean [exchanges.kraken]? (each exchange is a table [exchanges.NAME])"),
    ('[limits]\nmax_position = "1"\n',
     "limits: unknown key; did you mean [risk.limits]? (each risk is a table [risk.NAME])"),
    ("[strategy]\n", 'strategy: unknown key; did you mean "strategies"?'),
])
def test_a_table_at_the_top_level_says_where_it_belongs(tmp_path, text, expected):
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        prepare(path, secrets=False)
    assert [str(issue) for issue in caught.value.issues] == [expected]
