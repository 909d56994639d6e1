"""The training progress bar: step, loss, examples/s and ETA on one line (a line per step off a tty)."""

from __future__ import annotations

import sys
from typing import IO

from .estimate import fmt_seconds
from .trainer import Progress

__all__ = ["ProgressBar"]


class ProgressBar:
    def __init__(self, stream: IO[str] | None = None, width: int = 24) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.width = width
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._open = False

    def _line(self, text: str, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
            self._open = not final
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        if self._open:
            self.stream.write("\n")
            self._open = False
        self.stream.write(text + "\n")
        self.stream.flush()

    def __call__(self, p: Progress) -> None:
        if p.kind == "step":
            done = int(self.width * p.step / max(1, p.total_steps))
            bar = "#" * done + "-" * (self.width - done)
            self._line(f"[{bar}] step {p.step}/{p.total_steps} epoch {p.epoch}/{p.epochs} "
                       f"loss {p.loss:.4f} {p.examples_per_second:.1f} ex/s ETA {fmt_seconds(p.eta_seconds)}",
                       final=p.step == p.total_steps)
        elif p.kind == "epoch":
            train = f"train loss {p.loss:.4f}, " if p.loss is not None else ""
            exact = f", {p.message}" if p.message else ""
            self.message(f"epoch {p.epoch}/{p.epochs}: {train}validation loss {p.val_loss:.4f}{exact}")
        else:
            self.message(p.message)
