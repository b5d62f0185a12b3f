"""What reading a recording found (:class:`ReadStats`): a value of its own, so that the backtest contract can name
it without importing the ``record``/``replay`` commands of :mod:`bot.recording`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .units import counted

__all__ = ["ReadStats"]


@dataclass
class ReadStats:
    """What reading a recording found: lines, frames, the malformed lines skipped, by reason, the receive times
    that went back, and (set by whatever plays it) where playback stopped before the end of the file."""

    path: Path
    lines: int = 0
    frames: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    first_bad: list[int] = field(default_factory=list)
    """Line numbers of the first few malformed lines."""
    stopped_at: int | None = None
    """The line where playback stopped early: the one it could not get past, or after which the rest of the
    file yielded no market (a broken book that no later snapshot restored). None: it did not stop early."""
    stopped: str = ""
    """Why it stopped there, in a few words."""
    went_back: int = 0
    """Frames whose receive time was earlier than the frame's before (the recorder's wall clock stepped back):
    each is read at the time of the one before, in file order, and the frames after it keep their spacing."""
    went_back_ns: int = 0
    """The time those steps went back, in all: what the reading took as no time passing."""
    went_back_max_ns: int = 0
    """The largest of them."""
    first_went_back: int | None = None
    """The line of the first such frame."""
    symbols: tuple[str, ...] = ()
    """The symbols its reader asked for (the venue's markets); empty: every one."""
    found: tuple[str, ...] | None = None
    """The symbols the recording's market events are of, read when none was of :attr:`symbols` (what
    :meth:`nothing_played` names); None: not read."""

    @property
    def malformed(self) -> int:
        return sum(self.skipped.values())

    @property
    def troubled(self) -> bool:
        """Lines were skipped, receive times went back, or playback stopped early: what a backtest over it must
        say."""
        return bool(self.skipped) or self.went_back > 0 or self.stopped_at is not None

    def _skipped_text(self) -> str:
        """``K malformed lines skipped`` (``1 malformed line skipped``)."""
        return f"{counted(self.malformed, 'malformed line')} skipped"

    def skip(self, number: int, reason: str) -> None:
        self.skipped[reason] += 1
        if len(self.first_bad) < 5:
            self.first_bad.append(number)

    def step_back(self, number: int, back_ns: int) -> None:
        """Line ``number``'s receive time is ``back_ns`` earlier than the frame's before (read as no time passing)."""
        self.went_back += 1
        self.went_back_ns += back_ns
        self.went_back_max_ns = max(self.went_back_max_ns, back_ns)
        if self.first_went_back is None:
            self.first_went_back = number

    def time_went_back(self) -> str:
        """``receive time went back N times (at most X s, Y s in all; first at line L)``; "" when it never did."""
        if not self.went_back:
            return ""
        return (f"receive time went back {counted(self.went_back, 'time')} (at most "
                f"{self.went_back_max_ns / 1e9:.1f} s, {self.went_back_ns / 1e9:.1f} s in all; first at line "
                f"{self.first_went_back})")

    def stop(self, line: int, why: str) -> None:
        """Playback stopped early at ``line`` (the first such stop is kept)."""
        if self.stopped_at is None:
            self.stopped_at, self.stopped = line, why

    def summary(self) -> str:
        """One line: ``FILE: N lines, M frames, K malformed lines skipped (reason: count, ...; first at line
        L)`` (``1 line``, ``1 frame``: each count agrees with its noun), then ``; playback stopped early at line S:
        why`` if it did."""
        text = f"{self.path.name}: {counted(self.lines, 'line')}, {counted(self.frames, 'frame')}"
        if self.malformed:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in self.skipped.most_common())
            lines = ", ".join(map(str, self.first_bad))
            text += f", {self._skipped_text()} ({reasons}; first at line {lines})"
        if self.went_back:
            text += f"; {self.time_went_back()}: read in file order as no time passing"
        if self.stopped_at is not None:
            text += f"; playback stopped early at line {self.stopped_at}: {self.stopped}"
        return text

    def nothing_played(self) -> str:
        """Why a recording yielded no market event at all, for a reader that needed one."""
        if self.stopped_at is not None:
            return f"playback failed at line {self.stopped_at}: {self.stopped}"
        if not self.lines:
            return "the file is empty (a recording stopped before its first frame?)"
        if not self.frames:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in self.skipped.most_common())
            return f"none of its {counted(self.lines, 'line')} is a recording frame ({reasons})"
        wanted = ", ".join(self.symbols) or "the venue's symbols"
        text = f"none of its {counted(self.frames, 'frame')} is a market event of {wanted} ({self.summary()})"
        if self.found:
            return (f"{text}: the file holds {', '.join(self.found)}; play a recording of {wanted} (`arbot record "
                    f"--symbol {self.symbols[0] if self.symbols else 'SYMBOL'}`), or trade the recorded symbol")
        if self.found is not None:
            return f"{text}: it holds no market event of any symbol"
        return text

    def stopped_early(self) -> str:
        """Why playback stopped before the end of the file, and how to play what comes before; "" when it did not
        (a backtest refuses a recording it cannot play to its end rather than report on part of it)."""
        if self.stopped_at is None:
            return ""
        text = f"playback stops at line {self.stopped_at} of {self.lines}: {self.stopped}"
        if self.malformed:
            text += f" ({self._skipped_text()}, first at line " + ", ".join(map(str, self.first_bad)) + ")"
        keep = max(self.stopped_at - 1, 0)
        return (f"{text}. To play the part before it: head -n {keep} {self.path} > PART.jsonl, and play that file; "
                "else record the market again")

    def as_json(self) -> dict[str, Any]:
        """The figures as JSON types (a backtest report's ``recordings``); ``went_back`` only when receive times
        went back."""
        figures: dict[str, Any] = {
            "file": self.path.name, "lines": self.lines, "frames": self.frames, "malformed": self.malformed,
            "skipped": dict(self.skipped.most_common()), "first_malformed_lines": list(self.first_bad),
            "stopped_early": None if self.stopped_at is None else {"line": self.stopped_at, "why": self.stopped}}
        if self.went_back:
            figures["went_back"] = {"steps": self.went_back, "largest_ns": self.went_back_max_ns,
                                    "total_ns": self.went_back_ns, "first_line": self.first_went_back}
        return figures
