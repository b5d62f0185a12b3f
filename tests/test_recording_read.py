"""Reading a recording line: the one-call reading of the lines ``frame_line`` writes gives exactly what
the general reading (``json.loads`` and the checks) gives, frame or reason, for any text."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.recording import _entry, _frame, frame_line


def general(line: bytes) -> tuple[int, str] | str:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return "not UTF-8"
    return _entry(text)


TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=80) | st.sampled_from([
    "\ud800", "\udc00x", "a\tb", "\x00", "\\", '"', '\\"', "[" * 70 + "]" * 70, "{" * 65, "[]", "é😀"])


def lines(ts: int, raw: str) -> list[bytes]:
    """The line as frame_line writes it, and variants: without ensure_ascii, without its newline, with odd
    spacing, cut short, with a raw control character, keys swapped, repeated or added, ts_ns a float."""
    canonical = frame_line(raw, ts) if ts >= 0 else json.dumps({"ts_ns": ts, "raw": raw}) + "\n"
    loose = json.dumps({"ts_ns": ts, "raw": raw}, ensure_ascii=False) + "\n"
    swapped = json.dumps({"raw": raw, "ts_ns": ts}) + "\n"
    return [s.encode("utf-8", "surrogatepass") for s in (
        canonical, loose, swapped, canonical.rstrip("\n"), canonical.replace('"}', '" }'),
        canonical[:-3] + "\t" + '"}\n', canonical[:-2], canonical.replace(', "raw"', ', "raw": 1, "raw"'),
        canonical + "\n", canonical.replace("}", ', "ts_ns": -1}'), canonical.replace("}", ', "x": [[1]]}'),
        canonical.replace("}", ', "x": ' + "[" * 70 + "]" * 70 + "}"), canonical.replace(", ", ".0, ", 1))]


@settings(max_examples=400, deadline=None)
@given(ts=st.integers(-3, 10**25) | st.sampled_from([0, 1_763_780_000_000_000_000]), raw=TEXT)
def test_the_direct_reading_equals_the_general_one(ts, raw):
    for line in lines(ts, raw):
        assert _frame(line) == general(line), line


def test_well_formed_lines_are_read_directly_and_malformed_ones_keep_their_reason():
    book = '{"channel":"book","data":[{"bids":[{"price":1.5,"qty":2}]}]}'
    assert _frame(frame_line(book, 7).encode()) == (7, book)
    assert _frame(frame_line("\ud800", 7).encode()) == (7, "\ud800")  # msgspec refuses it, json.loads reads it
    assert _frame(b'{"raw": "x", "ts_ns": 7, "raw": "y"}') == (7, "y")  # as json.loads reads it: the last one
    assert _frame(frame_line("[" * 65 + "]" * 65, 7).encode()) == "raw nested too deep"
    assert _frame(b'{"ts_ns": 07, "raw": "x"}\n') == "not JSON"
    assert _frame(b'{"ts_ns": 5, "raw": "a\tb"}\n') == "not JSON"
    assert _frame(b'{"ts_ns": 5, "raw": 42}\n') == "raw not a string"
    for not_utf8 in (b'{"ts_ns": 5, "raw": "\xff"}\n', b'{"ts_ns": 5, "raw": "\xed\xa0\x80"}\n',
                     b'{"ts_ns": 5, "raw": "a\xe2\x82"}\n', b'{"ts_ns": 5, "raw": "x"}\xff\n', b'{"ts_ns": 5\xc3}\n'):
        assert _frame(not_utf8) == "not UTF-8" == general(not_utf8), not_utf8
