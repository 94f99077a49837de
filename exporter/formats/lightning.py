"""PyTorch Lightning progress bars: the default TQDM bar and the Rich bar.

- TQDM: ``Epoch 0:  92%|███▉ | 932/1016 [00:33<00:03, 27.70it/s, v_num=77, train_loss=…]``, one bar per epoch
  counting that epoch's batches. ``Validation DataLoader 0: …`` / ``Validation: …`` bars interleave and become
  Eval events; ``Sanity Checking…``, ``Training: … 0/?``, ``Testing``/``Predicting`` bars are ignored.
  At each epoch change Lightning resets the bar before renaming it, which prints ``Epoch 0: 0/1000`` right
  after ``Epoch 0: 1000/1000``; that artefact is skipped so the counter never jumps back.
- Rich: ``Epoch 3/9 ━━━━ 45/100 0:00:10 • 0:00:12 12.34it/s v_num: 0 train_loss: 0.123`` where ``/9`` is the
  last epoch index (total epochs 10). Written to a file, Rich prints only the final state and wraps long lines,
  so the metrics may continue on the next records (those are not read).
- A hand-written loop's tqdm bar per epoch, ``tqdm(loader, desc=f"Epoch {epoch + 1}/{epochs}")``: ``Epoch 1/3:
  45%|████▌ | 90/200 [00:00<00:00, 195.00it/s]`` (Lightning's own TQDM bar never prints ``/``): the epochs' total,
  epochs counted from 1 (or from 0 when the first one seen is 0).
- The end of ``fit``: ``Trainer.fit stopped: max_epochs=3 reached.`` (with backquotes; or ``max_steps=N``), often glued to the
  last bar update: the run's size, so a finished run reads as finished.
- ``EarlyStopping(verbose=True)``: ``Monitored metric val_loss did not improve in the last 3 records. Best score:
  0.123. Signaling Trainer to stop.``: fit ends with this epoch, its size too.

Lightning 1.x counted validation batches into the epoch bar's total; such totals are reported as printed.
"""

from __future__ import annotations

import functools
import re

from exporter.events import Config, Eval, Event, Progress
from exporter.formats._epochs import epoch_base
from exporter.formats._values import finite, number, pick_loss
from exporter.formats.base import Parser
from exporter.formats.tqdm_bars import (
    COLUMN_RATE,
    FAST_BAR,
    bar_regex,
    fast_seconds,
    match_bar,
    postfix_loss,
    rate_seconds,
)

_EPOCH_DESC = re.compile(r"^Epoch (\d+)(?:/(\d+))?$")
_RICH = re.compile(
    r"^(?P<desc>Epoch (?P<epoch>\d+)(?:/(?P<last>\d+))?|Validation(?: DataLoader \d+)?|"
    r"Sanity Checking(?: DataLoader \d+)?|Testing(?: DataLoader \d+)?|Predicting(?: DataLoader \d+)?)"
    r"\s+[━╸╺╾╼─]*\s*(?P<n>\d+)/(?P<total>\d+|--)\s+(?P<elapsed>\d+:\d\d:\d\d)\s*•\s*"
    r"(?P<remaining>-:--:--|\d+:\d\d:\d\d)?\s*(?:(?P<rate>\d+(?:\.\d+)?)it/s)?(?P<metrics>.*)$"
)
_RICH_METRIC = re.compile(r"([\w./-]+):\s+(\S+)")
_STOPPED = re.compile(r"`(max_epochs|max_steps)=(\d+)` reached")
_FAST_EPOCH_BAR = re.compile(r"Epoch (\d{1,9}):" + FAST_BAR + r"(?:,\s*([^\]]*))?\]")
"""A TQDM epoch bar, the whole record (``fast_progress``): groups epoch, n, total, rate, unit, postfix."""


@functools.lru_cache(maxsize=64)
def _epoch_columns(epoch: int, total: int) -> re.Pattern[str]:
    """``_FAST_EPOCH_BAR`` for one epoch and size, a batch past 0, a rate of ``COLUMN_RATE`` and a postfix of plain
    numbers only (its loss finite), the whole record (groups: n, rate)."""
    bar = bar_regex(r"([1-9]\d{0,14})", str(total), COLUMN_RATE, bar=r"[^|\n•`]")
    return re.compile(f"Epoch {epoch}:" + bar + r"(?:, [\w./-]+=-?\d{1,12}(?:\.\d{1,12})?)*\]\Z")


class LightningParser(Parser):
    """Lightning TQDM and Rich progress bars with per-epoch counters."""

    name = "lightning"

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None
        """(epoch, batch) of the last training Progress."""
        self._batches_per_epoch: int | None = None
        self._eval_open = False
        self._loop_base: int | None = None
        """The first epoch number of a hand-written loop's ``Epoch e/E`` bars (0 or 1)."""

    def parse(self, text: str) -> list[Event]:
        if text.endswith("Signaling Trainer to stop.") and self._last is not None:
            # ``EarlyStopping(verbose=True)`` stops fit at the end of this epoch: the run's size, so an early-stopped
            # run reads as finished, not as a stalled one (the callback's ``_evaluate_stopping_criteria``).
            return [Config(total_epochs=self._last[0] + 1)]
        if "`Trainer.fit` stopped" in text:
            # The end of fit (Lightning 2.x ``_check_stopping``): the limit reached is the run's size, so the run
            # reads as finished even though the per-epoch bars never print the total.
            end = _STOPPED.search(text)
            before = text[: text.index("`Trainer.fit` stopped")]
            events = self.parse(before) if before.strip() else []
            if end and end.group(1) == "max_epochs":
                events.append(Config(total_epochs=int(end.group(2))))
            elif end:
                events.append(Config(total_iterations=int(end.group(2))))
            return events
        if "━" in text and "•" in text:
            return self._rich(text)
        if "|" not in text:
            return []
        bar = match_bar(text)
        if bar is None:
            return []
        m = _EPOCH_DESC.match(bar.desc)
        if m:
            epoch, epochs = int(m.group(1)), m.group(2)
            if epochs is not None:  # a hand-written loop's bar: e of E
                if self._loop_base is None:
                    self._loop_base = epoch_base(epoch)
                epoch = max(0, epoch - self._loop_base)
            return self._train(
                epoch=epoch,
                n=bar.n,
                total=bar.total,
                seconds=bar.seconds,
                loss=bar.loss,
                total_epochs=int(epochs) if epochs is not None else None,
            )
        if bar.desc.startswith("Validation"):
            return self._eval(bar.n, bar.total, bar.n * bar.seconds if bar.seconds is not None else None)
        return []

    def fast_progress(self, text: str) -> Progress | None:
        if "•" in text or "`Trainer.fit` stopped" in text:
            return None  # a Rich bar, or the end of fit: the full path
        match = _FAST_EPOCH_BAR.fullmatch(text)
        if match is None or self._eval_open:
            return None
        epoch_text, n_text, total_text, rate_text, unit, postfix = match.groups()
        n, seconds = int(n_text), fast_seconds(rate_text, unit)
        if n == 0 or seconds is None:
            return None  # a reset redraw may be skipped: the full path decides
        return self._progress(int(epoch_text), n, int(total_text), seconds, postfix_loss(postfix or ""), None)

    def columns(self) -> re.Pattern[str] | None:
        """Redraws of the current epoch's bar (``Parser.columns``); None while a validation bar is open."""
        if self._eval_open or self._last is None or not self._batches_per_epoch:
            return None
        return _epoch_columns(self._last[0], self._batches_per_epoch)

    def column_iterations(self, texts: list[str]) -> list[int]:
        start = self._last[0] * self._batches_per_epoch if self._last is not None and self._batches_per_epoch else 0
        return [start + int(n) for n in texts]

    def column_seconds(self, texts: list[str]) -> list[float]:
        return rate_seconds(texts)

    def _rich(self, text: str) -> list[Event]:
        m = _RICH.match(text.strip())
        if m is None:
            return []
        n = int(m.group("n"))
        total = int(m.group("total")) if m.group("total") != "--" else None
        if m.group("epoch") is None:
            return self._eval(n, total) if m.group("desc").startswith("Validation") else []
        rate = finite(number(m.group("rate")))
        last = m.group("last")
        metrics = m.group("metrics")
        return self._train(
            epoch=int(m.group("epoch")),
            n=n,
            total=total,
            seconds=1.0 / rate if rate else None,
            loss=pick_loss(_RICH_METRIC.findall(metrics)) if "loss" in metrics else None,
            total_epochs=int(last) + 1 if last else None,
        )

    def _train(
        self,
        *,
        epoch: int,
        n: int,
        total: int | None,
        seconds: float | None,
        loss: float | None,
        total_epochs: int | None,
    ) -> list[Event]:
        if n == 0 and self._last is not None and self._last[0] == epoch and self._last[1] > 0:
            return []  # the reset redraw before the bar is renamed to the next epoch
        out: list[Event] = []
        if self._eval_open:
            self._eval_open = False
            out.append(Eval(iteration=self._global(), done=True))
        out.append(self._progress(epoch, n, total, seconds, loss, total_epochs))
        return out

    def _progress(self, epoch: int, n: int, total: int | None, seconds: float | None, loss: float | None,
                  total_epochs: int | None) -> Progress:
        """The epoch bar reached ``n``: where the run is (for evals after it), and the Progress."""
        self._last = (epoch, n)
        if total is not None:
            self._batches_per_epoch = total
        return Progress(iteration=n, total_iterations=total, iteration_seconds=seconds, loss=loss, epoch=epoch,
                        total_epochs=total_epochs, batches_per_epoch=total)

    def _eval(self, n: int, total: int | None, seconds: float | None = None) -> list[Event]:
        """A validation bar: opens the evaluation, or closes it when it completes (having taken ``seconds``: its
        batches at the rate it printed, when it printed one; the Rich bar's rate is not read)."""
        if total is not None and n >= total:
            if not self._eval_open:
                return []
            self._eval_open = False
            return [Eval(iteration=self._global(), done=True, seconds=seconds)]
        self._eval_open = True
        return [Eval(iteration=self._global(), done=False)]

    def _global(self) -> int | None:
        if self._last is None:
            return None
        epoch, n = self._last
        return epoch * self._batches_per_epoch + n if self._batches_per_epoch else n


PARSERS: tuple[type[Parser], ...] = (LightningParser,)
