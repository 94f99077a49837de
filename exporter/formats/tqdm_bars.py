"""tqdm progress bars (Hugging Face accelerate/diffusers scripts, axolotl, old YOLO, any ``for x in tqdm(...)``).

A bar record looks like `` 30%|███▍      | 258/873 [22:15<43:27,  4.24s/it, loss=0.12]`` with an optional
``desc: `` before it; without a known total tqdm prints ``258it [22:15, 4.24s/it]``. Updates arrive as
``\\r``-separated records, so one bar yields many records.

Several bars share one log: dataset/model-loading bars before training, evaluation bars nested inside the training
bar, checkpoint-writing bars. ``BarTracker`` decides which bar is the training ("main") bar:

- bars whose unit is not an iteration (``examples/s``, ``B/s``) and known tool bars (``Loading checkpoint shards``,
  ``Map``, ``Downloading``, ...) are ignored;
- bars described as evaluation (``eval``, ``valid``, ``test``, ``predict``) are evaluations;
- bars described as writing/saving shards are checkpoints;
- when the run's total is known from a config line, the bar with that total is the main bar;
- otherwise the first bar is the main bar. A bar with another total replaces it only if its total is larger
  and the main bar either completed (a real training bar after a short loading or evaluation bar) or never
  moved past 0 (a placeholder such as ``Training: 0/?``); any other bar is nested: an evaluation while training
  runs (even at step 0), or the final evaluation that trainers run after the last step. A second training run
  with a smaller total in the same file is therefore read as evaluation;
- a pass of the main bar may be an epoch of the run, which a bar over epochs around it, a line naming an epoch
  or a description counting on says (``_bar_epochs``): its counts then go on from the epochs before.

tqdm's rate is an exponential moving average (smoothing 0.3), still reported as ``iteration_seconds``, except
after a skip-ahead: a resumed Hugging Face run counts the steps done before the resume in one update within the
bar's first second (``0/6000`` then ``2003/6000 [00:00<00:00, 16813.61it/s]``), and tqdm then shows that rate, or
ones decaying from it, for a minute or more (its dynamic ``miniters``: the steps of one update set how many must
pass before it measures again). A redraw in the bar's first second that counts more steps than the bar's latest
pace (not its first step's alone, which holds the start-up) does in ``SKIP_SECONDS`` is such a skip: from then on the pace is the bar's elapsed time over the steps since
the skip (the pace before it while that spans under ``AVERAGE_AFTER`` seconds), until the rate agrees with it again.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from itertools import islice, repeat
from operator import add, le, truediv

from exporter.events import MAX_SECONDS, Checkpoint, Eval, Event, Progress
from exporter.formats._bar_epochs import BarEpochs, Pass
from exporter.formats._values import finite, number, pick_loss
from exporter.formats.base import Parser

# One anchored regex: the lazy description stops at the first place where a full bar follows, so the
# cost stays linear even on huge garbage lines.
_BAR = re.compile(
    r"^(?P<desc>.{0,400}?)(?:(?P<pct>\d{1,3})%)?\|(?P<bar>[^|\n]{0,300})\|\s*(?P<n>\d+)/(?P<total>\d+|\?)\s*"
    r"\[(?P<elapsed>[\d:?]+)(?:<(?P<remaining>[\d:?]+))?,\s*"
    r"(?P<rate>\?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?P<scale>[kMGTP]?)(?P<unit>[^\s,\]/]+/s|s/[^\s,\]]+)"
    r"(?:,\s*(?P<postfix>[^\]]*))?\]"
)
# tqdm without a total: ``desc: 258it [22:15, 4.24s/it]``
_COUNT = re.compile(
    r"^(?P<desc>.{0,400}?)(?P<n>\d+)(?P<nunit>[A-Za-z]+) \[(?P<elapsed>[\d:?]+),\s*"
    r"(?P<rate>\?|\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)(?P<scale>[kMGTP]?)(?P<unit>[^\s,\]/]+/s|s/[^\s,\]]+)"
    r"(?:,\s*(?P<postfix>[^\]]*))?\]"
)


def bar_regex(n: str, total: str, rate: str, *, bar: str = r"[^|\n]", elapsed: str = r"[\d:?]+") -> str:
    """A bar from its percentage to its rate, with these patterns for its count, total, rate, bar characters and
    elapsed time: the one shape every fast lane and column pattern narrows."""
    return rf" *\d{{1,3}}%\|{bar}{{0,300}}\|\s*{n}/{total}\s*\[{elapsed}(?:<[\d:?]+)?,\s*{rate}"


FAST_BAR = bar_regex(r"(\d{1,15})", r"(\d{1,15})", r"(\d{1,12}(?:\.\d{1,12})?)(it/s|s/it)")
"""A bar from its percentage to its rate: ``_BAR`` restricted to bounded digits, a plain rate and the two iteration
units (groups: n, total, rate, unit). The fast lanes of long logs match it, each with what may come around it."""
_FAST_BAR = re.compile(FAST_BAR + r"\]")
"""A redraw without description or postfix, the whole record (``BarTracker.fast_main``)."""
COLUMN_RATE = r"([1-9]\d{0,11}(?:\.\d{1,12})?)it/s"
"""A rate of 1 it/s or more, its seconds 1 / rate (slower bars print s/it)."""
FIRST_SECOND = "[00:00"
"""How a bar's elapsed time starts during its first second (tqdm prints ``00:00``): where a skip-ahead shows."""
SKIP_SECONDS = 10.0
"""A redraw in a bar's first second that counts more steps than the bar's latest pace does in this many seconds is
a skip-ahead (a resume counting the steps done before it), not a pace."""
AVERAGE_AFTER = 5.0
"""After a skip, the bar's elapsed time (whole seconds) gives the pace once it spans this long (at most 20 % off)."""
TRUST_AFTER = 10.0
AGREE = 1.25
"""After a skip, the rate is taken again once, over at least ``TRUST_AFTER`` seconds, it is within this factor of
the pace the elapsed time gives (a steady bar's smoothed rate stays within about a fifth of it)."""

_POSTFIX_PAIR = re.compile(r"([\w./-]+)=\s*([^,\s]+)")
_SCALES = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_ITERATION_UNITS = frozenset({"it", "step", "steps", "batch", "batches", "iter", "iters"})

_EVAL_DESC = re.compile(r"eval|valid|test|predict|inference|sanity", re.IGNORECASE)
_CHECKPOINT_DESC = re.compile(r"writing model shards|saving", re.IGNORECASE)
_TOOL_DESC = re.compile(
    r"^\s*(?:loading|fetching|download|map\b|filter\b|generating|tokeniz|resolving|extracting|computing|"
    r"converting|preparing|processing|casting|flattening|shuffling|sharding|uploading|writing|running tokenizer)",
    re.IGNORECASE,
)


@dataclass(slots=True)
class Bar:
    """One rendered tqdm bar."""

    desc: str
    """Description before the bar without its trailing ``:`` (empty if none)."""
    n: int
    total: int | None
    unit: str
    """The iteration unit (``it`` for ``it/s`` and ``s/it``)."""
    seconds: float | None
    """Seconds per unit from the (smoothed) rate; None while tqdm prints ``?``."""
    elapsed: float | None
    """Seconds since the bar started, as printed (whole seconds); None when unreadable."""
    postfix: str
    end: int
    """Index in the record just after the bar's closing ``]`` (text glued after the bar starts here)."""

    @property
    def loss(self) -> float | None:
        """Training loss from a ``loss=…`` style postfix."""
        return postfix_loss(self.postfix)


def postfix_loss(postfix: str) -> float | None:
    """The training loss in a bar's postfix (``v_num=0, train_loss=1.23``), else None."""
    return pick_loss(_POSTFIX_PAIR.findall(postfix)) if "loss" in postfix else None


def fast_seconds(rate_text: str, unit: str) -> float | None:
    """Seconds per iteration from a ``FAST_BAR`` match's rate, as ``match_bar`` computes them; None when that would
    be None or out of ``events.checked``'s range (a fast lane then leaves the record to the full path)."""
    rate = float(rate_text)
    if rate <= 0:
        return None
    seconds = rate if unit == "s/it" else 1.0 / rate
    return seconds if seconds <= MAX_SECONDS else None


def rate_seconds(rates: list[str]) -> list[float]:
    """``Parser.column_seconds`` of ``COLUMN_RATE`` rates (``fast_seconds`` of each)."""
    return list(map(truediv, repeat(1.0), map(float, rates)))


def match_bar(text: str) -> Bar | None:
    """Parse a tqdm bar at the start of ``text`` (after an optional description), else None."""
    if "[" not in text:
        return None
    if "|" in text:
        m = _BAR.match(text)
        total_text = m.group("total") if m else None
    else:
        m = None
        total_text = None
    if m is None:
        m = _COUNT.match(text)
        if m is None or m.group("nunit") != _unit_of(m.group("unit")):
            return None
    unit = _unit_of(m.group("unit"))
    rate = m.group("rate")
    seconds = None
    if rate != "?":
        value = finite(number(rate))
        if value is not None and value > 0:
            value *= _SCALES[m.group("scale")]
            seconds = value if m.group("unit").startswith("s/") else 1.0 / value
    desc = m.group("desc").strip()
    if desc.endswith(":"):
        desc = desc[:-1].rstrip()
    return Bar(
        desc=desc,
        n=int(m.group("n")),
        total=int(total_text) if total_text and total_text != "?" else None,
        unit=unit,
        seconds=seconds,
        elapsed=clock_seconds(m.group("elapsed")),
        postfix=m.group("postfix") or "",
        end=m.end(),
    )


def clock_seconds(text: str) -> float | None:
    """Seconds of a tqdm time (``mm:ss`` or ``h:mm:ss``); None for ``?`` or anything else."""
    parts = text.split(":")
    if not 2 <= len(parts) <= 3 or not all(part.isdigit() for part in parts):
        return None
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return float(seconds)


def _unit_of(rate_unit: str) -> str:
    return rate_unit[2:] if rate_unit.startswith("s/") else rate_unit[:-2]


@functools.lru_cache(maxsize=64)
def _bar_columns(total: int) -> re.Pattern[str]:
    """``_FAST_BAR`` for one total and the rates of ``COLUMN_RATE``, the whole record, past the bar's first second
    (where a skip-ahead shows, ``BarTracker._seconds``: those redraws are read whole)."""
    first_second = re.escape(FIRST_SECOND[1:])
    return re.compile(bar_regex(r"(\d{1,15})", str(total), COLUMN_RATE, elapsed=rf"(?!{first_second}[<,])[\d:?]+")
                      + r"\]\Z")


class BarTracker:
    """Per-file state deciding which bar is the training bar; turns bars into events (see the module doc)."""

    def __init__(self) -> None:
        self.expected_total: int | None = None
        """The run's total from a config line; when set, only a bar with this total is the main bar."""
        self.checkpoints_announced = False
        """A log line announces each save (with its step): shard-writing bars then add nothing."""
        self.main_n: int | None = None
        self.main_total: int | None = None
        self._has_main = False
        self._eval_open = False
        self._save_bar_open = False
        self._last_checkpoint: int | None = None
        self._pending_loss: float | None = None
        self._pace: float | None = None
        """Seconds per iteration of the training bar's latest trusted redraw."""
        self._skip: tuple[int, float] | None = None
        """(count, elapsed seconds) where the training bar skipped ahead, while its rate is not trusted."""
        self._main_desc = ""
        self._epochs = BarEpochs()

    @property
    def position(self) -> int | None:
        """The training bar's iteration counted from the run's start (``Progress.global_iteration``)."""
        return None if self.main_n is None else self.at_main().global_iteration

    def take_loss(self, loss: float) -> list[Event]:
        """A loss printed without a step number: a Progress at the main bar's latest iteration, or kept."""
        if self.main_n is None:
            self._pending_loss = loss
            return []
        return [self.at_main(loss=loss)]

    def at_main(self, *, loss: float | None = None) -> Progress:
        """A Progress at the training bar's latest iteration (a line that prints no step of its own)."""
        return self._progress(self.main_n or 0, self.main_total, None, loss)

    def _progress(self, n: int, total: int | None, seconds: float | None, loss: float | None) -> Progress:
        epoch = self._epochs.epoch
        if epoch is None or not total:
            return Progress(iteration=n, total_iterations=total, iteration_seconds=seconds, loss=loss)
        return Progress(iteration=n, total_iterations=total, iteration_seconds=seconds, loss=loss,
                        epoch=epoch, total_epochs=self._epochs.epochs, batches_per_epoch=total)

    def epoch_line(self, text: str) -> None:
        """A line that is no bar (it may name an epoch: ``_bar_epochs``)."""
        self._epochs.line(text, self._pass())

    def _pass(self) -> Pass:
        return Pass(self._main_desc, self.main_n, self.main_total)

    def eval_result(self, loss: float | None, seconds: float | None = None) -> list[Event]:
        """An evaluation finished with these results (a trainer's eval summary line, and how long it took when
        the line says)."""
        self._eval_open = False
        return [Eval(iteration=self.position, loss=loss, done=True, seconds=seconds)]

    def checkpoint(self, iteration: int | None, path: str | None) -> list[Event]:
        """A checkpoint save was announced; one save announced twice (log line and shard bar) counts once."""
        iteration = iteration if iteration is not None else self.position
        if iteration is not None and iteration == self._last_checkpoint:
            return []
        self._last_checkpoint = iteration
        return [Checkpoint(iteration=iteration, path=path)]

    def events(self, bar: Bar) -> list[Event]:
        """Events for one rendered bar."""
        role = self._role(bar)
        if role == "outer":
            return self._epoch_bar(bar)
        if role == "eval":
            return self._eval_bar(bar)
        if role == "checkpoint":
            started = not self._save_bar_open
            self._save_bar_open = bar.total is None or bar.n < bar.total
            return self.checkpoint(None, None) if started and not self.checkpoints_announced else []
        if role != "main":
            return []
        out: list[Event] = []
        if self._eval_open:
            # The training bar moves again: an evaluation whose bar vanished without completing is over.
            self._eval_open = False
            out.append(Eval(iteration=self.position, done=True))
        self._follow(bar)
        seconds = self._seconds(bar)
        out.append(self._main(bar.n, bar.total, seconds, bar.loss))
        return out

    def _epoch_bar(self, bar: Bar) -> list[Event]:
        """The bar over epochs redrawn: its count is the training bar's epoch from now on. An epoch it ends before the
        training bar drew its end (a ``leave=False`` bar clears itself without a last redraw) ends there."""
        n, total = self.main_n, self.main_total
        out: list[Event] = []
        if bar.n > (self._epochs.epoch or 0) and n is not None and total and n < total:
            out.append(self._main(total, total, None, None))
        self._epochs.epoch = bar.n
        return out

    def _follow(self, bar: Bar) -> None:
        """Before the training bar's redraw ``bar``: the epoch of its pass (``_bar_epochs``)."""
        self._epochs.before(bar.desc, bar.total, bar.n, self._pass() if self._has_main else None)
        self._main_desc = bar.desc

    def _seconds(self, bar: Bar) -> float | None:
        """Seconds per iteration of a training-bar redraw: its rate's, unless it follows a skip-ahead (the module
        doc). Every redraw that may start or end a skip is read whole: the columns leave out a bar's first second,
        and the fast lane leaves that and every redraw while a skip lasts to ``events`` (a run of columns whose
        last redraw the fast lane leaves is then read whole, line by line)."""
        elapsed = bar.elapsed
        if self._skip is not None and (elapsed is None or bar.n < self._skip[0]):
            self._skip = None  # another bar began
        if self._skip is None:
            moved = bar.n - (self.main_n or 0)
            if (elapsed is not None and elapsed < 1 and self._pace is not None and moved > 0
                    and moved * self._pace > SKIP_SECONDS):
                self._skip = (bar.n, elapsed)
                return None  # its rate counts steps done before the bar began
            self._reference(bar.n, bar.seconds)
            return bar.seconds
        start, began = self._skip
        span = (elapsed or 0.0) - began
        if span < AVERAGE_AFTER or bar.n <= start:
            return self._pace
        average = span / (bar.n - start)
        if bar.seconds is not None and span >= TRUST_AFTER and average / AGREE <= bar.seconds <= average * AGREE:
            self._skip = None
            self._pace = bar.seconds
            return bar.seconds
        return average

    def _reference(self, n: int, seconds: float | None) -> None:
        """A training-bar redraw's rate as the pace a skip-ahead is measured against: not the bar's first step's
        alone, which holds the start-up (a CUDA context, the loader's first batch), often many times a step, so that
        the quick steps after it would read as a skip-ahead."""
        if seconds is not None and n > 1:
            self._pace = seconds

    def _main(self, n: int, total: int | None, seconds: float | None, loss: float | None) -> Progress:
        """The training bar reached ``n``: its state, and the Progress (with a loss printed before any bar)."""
        self._has_main = True
        self.main_n, self.main_total = n, total
        if loss is None and self._pending_loss is not None:
            loss = self._pending_loss
        self._pending_loss = None
        return self._progress(n, total, seconds, loss)

    def fast_main(self, text: str) -> Progress | None:
        """``events(match_bar(text))`` when ``text`` is just a redraw of the training bar already known (no
        description, no postfix, no eval bar open, the same total), else None (``match_bar`` then reads it)."""
        match = _FAST_BAR.fullmatch(text)
        if match is None or not self._has_main or self._eval_open or self._skip is not None or FIRST_SECOND in text:
            return None
        n_text, total_text, rate_text, unit = match.groups()
        total = int(total_text)
        if total != (self.main_total if self.expected_total is None else self.expected_total):
            return None
        if self._epochs.watches("", total):
            return None  # a redraw that may be the candidate bar over epochs moving (``_role``) is read whole
        n = int(n_text)
        if n < (self.main_n or 0) or (self._epochs.guessed and n >= total):
            return None  # the bar starts over, which may begin an epoch, or ends a guessed one (``_follow``)
        seconds = fast_seconds(rate_text, unit)
        if seconds is None:
            return None
        self._reference(n, seconds)
        self._main_desc = ""  # as ``_follow`` leaves it after a redraw without one
        return self._main(n, total, seconds, None)

    def columns(self) -> re.Pattern[str] | None:
        """``Parser.columns``: redraws of the training bar ``fast_main`` would read, with its total and a rate of
        1 it/s or more (groups: n, rate); None before a training bar (a loss may wait for it) and while an eval
        bar is open (the next training bar closes it)."""
        total = self.main_total if self.expected_total is None else self.expected_total
        if not self._has_main or self._eval_open or total is None or self._epochs.watches("", total):
            return None
        return _bar_columns(total)

    def column_iterations(self, texts: list[str]) -> list[int] | None:
        """``Parser.column_iterations`` of the training bar's redraws: their counts, past the epochs before; None
        where the bar starts over among them (which may begin an epoch: ``_follow``). A run that ends a pass guessed
        to be an epoch's ends with that redraw, which ``fast_main`` leaves to the full path."""
        counts = list(map(int, texts))
        if counts[0] < (self.main_n or 0) or not all(map(le, counts, islice(counts, 1, None))):
            return None
        offset = (self.position or 0) - (self.main_n or 0)
        return list(map(add, counts, repeat(offset))) if offset else counts

    def _eval_bar(self, bar: Bar) -> list[Event]:
        if bar.total is not None and bar.n >= bar.total:
            if not self._eval_open:
                return []  # the closing redraw of an eval bar already reported finished
            self._eval_open = False
            return [Eval(iteration=self.position, done=True)]
        self._eval_open = True
        return [Eval(iteration=self.position, done=False)]

    def _role(self, bar: Bar) -> str:
        if bar.unit not in _ITERATION_UNITS:
            return "ignore"
        if self._epochs.is_outer(bar.desc, bar.total):
            return "outer"
        self._epochs.other_bar(bar.desc, bar.total, bar.n)
        if bar.desc:
            if _CHECKPOINT_DESC.search(bar.desc):
                return "checkpoint"
            if _EVAL_DESC.search(bar.desc):
                return "eval"
            if _TOOL_DESC.match(bar.desc):
                return "ignore"
        if self.expected_total is not None:
            return "main" if bar.total == self.expected_total else "eval"
        if not self._has_main or bar.total == self.main_total:
            return "main"
        main_started = bool(self.main_n)
        main_done = self._pass().done
        larger = bar.total is not None and (self.main_total is None or bar.total > self.main_total)
        return "main" if larger and (main_done or not main_started) else "eval"


class TqdmBarsParser(Parser):
    """Generic tqdm bars: Progress for the training bar, Eval for nested bars, Checkpoint for shard writes."""

    name = "tqdm_bars"

    def __init__(self) -> None:
        self.bars = BarTracker()

    def parse(self, text: str) -> list[Event]:
        bar = match_bar(text)
        if bar is None:
            self.bars.epoch_line(text)
            return []
        return self.bars.events(bar)

    def fast_progress(self, text: str) -> Progress | None:
        return self.bars.fast_main(text)

    def columns(self) -> re.Pattern[str] | None:
        return self.bars.columns()

    def column_iterations(self, texts: list[str]) -> list[int] | None:
        return self.bars.column_iterations(texts)

    def column_seconds(self, texts: list[str]) -> list[float]:
        return rate_seconds(texts)


PARSERS: tuple[type[Parser], ...] = (TqdmBarsParser,)
