"""The fallback for trainers we have never seen: any line that prints a step counter in a common shape.

Shapes understood (case-insensitive), each only on a line that also prints a training metric (a loss, a
learning rate, a throughput or a time), so config dumps and summaries do not read as progress:

- a keyword and a counter: ``step 12``, ``Step 12/1000``, ``iter: 12``, ``iteration=12``, ``global_step=12``,
  ``Batch 12``, ``train step 12``, ``update 12`` (``/total`` optional);
- a bracketed counter with a time: ``[ 22/290 02:50 < 38:04, 0.12 it/s, …]`` (the HF notebook bar), or one that
  starts the line: ``[100/1000] loss: 0.52``, ``[100] learning_rate=0.001, loss=2.301`` (CLU's metric writer);
- an epoch and a counter within it, as hand-written loops print them (pytorch/examples, tutorials):
  ``Epoch [1/5], Step [100/600], Loss: 0.23``, ``Train Epoch: 1 [6400/60000 (11%)]  Loss: 0.30`` (a count of
  samples), ``| epoch   1 |   200/ 2983 batches | … | ms/batch 45.30 | loss  5.20``, ``===> Epoch[1](11/200): Loss:
  0.01``, ``Epoch 0 | Iter 100 | train Loss 2.1``, ``[0/25][50/1583] Loss_D: 0.51`` (DCGAN). Whether the counter
  is per epoch shows at the first new epoch: it starts over (per epoch: the run's position is epochs done x
  counter total + counter; without a printed counter total, the previous epochs' last counter plus one logging
  step) or goes on (a run-wide counter). The epoch is 0-based when the first one seen is 0, else 1-based; the
  run's total is known when the epoch's total is printed (``[1/5]``). Until the first new epoch a counter is
  taken per epoch: read as the run's, a per-epoch total would end the run at its first epoch; a single-epoch run
  with a run-wide ``step 100/5000`` takes ``--total-epochs 1``;
- a counter without an epoch, in a loop that names the epoch on a line of its own (``Epoch 2/10`` before or after
  each pass) or names none: when the counter, having reached its total, starts over with the same total, the new
  pass is the next epoch, not another counter (the passes are counted; a line between them says how many, where it
  does); a line naming the first epoch (0 or 1) before any counter makes the first pass that epoch at once (a
  config's ``epoch: 10`` names no first epoch);
- an epoch alone, in a loop that logs once per epoch (``Epoch [5/200] Train Loss: 0.51 | Val Loss: 0.60``; its
  validation named on the same line): the epochs done are the progress. In a log that counts batches such a line
  is an epoch's summary, not progress.

An evaluation summary (a line naming an evaluation, with a loss, accuracy or perplexity, and no counter of an
evaluation loop: ``Test set: Average loss: 0.0400, Accuracy: 9800/10000 (98%)``, ``| end of epoch 1 | time: 140.20s
| valid loss 5.00``) is an ``Eval`` at the last training position, once per position: its cost then counts as
periodic work, not as a hang.

tqdm bars (``12/290 [00:10<02:00, …]``) are the ``tqdm`` family's, which knows an eval bar from a training bar.
A line that names an evaluation (``val``, ``eval``, ``test``, ``sanity``, ``predict``, also in a key such as
``val_loss``) is never progress here, except an epoch's line in a loop that logs once per epoch.

The keyword must stand alone: ``max_steps=1000``, ``warmup_steps``, ``total steps 10`` or ``save every 500
steps`` are not progress. A counter that goes backwards by more than a little is another counter (an eval loop,
a second logger), not a restart, and is ignored; a restart to 0 or 1 is kept. Time per iteration comes from a
``time``/``step_time``/``time/step``/``dt`` field with a unit, a unit per step (``ms/batch 45.3``, ``120 ms/step``,
``250ms/it``) or a rate (``it/s``, ``s/it``, ``steps_per_sec=4.1``), never from ``elapsed`` (the run's clock); loss from
``loss``.
Precision matters more than recall: this family is generic (it never wins against a known family, see
``formats.GENERIC_FAMILIES``) and on every real log in the repository it yields no progress where a known
family applies (``tests/test_formats_generic.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from exporter.events import Eval, Event, Progress
from exporter.formats._epochs import epoch_base
from exporter.formats._values import SCAN_LIMIT, finite, integer, number, pick_loss, step_seconds
from exporter.formats.base import Parser

_KEYWORD = re.compile(
    r"(?<![\w.\-/])(?P<key>global[ _]step|train(?:ing)?[ _]step|step|iteration|iter|it|update|batch)"
    r"\s*(?:[:=#]\s*|\s+|(?=\[))\[?\s*(?P<n>\d{1,15})(?:(?:\s*/\s*|\s+of\s+)(?P<total>\d{1,15}))?\b"
    r"(?!\s*(?:steps|%|\.\d))",
    re.IGNORECASE,
)
_NOT_PROGRESS = re.compile(r"(?:total|max|warmup|num|every|save|eval|log|steps?_per|per)[ _]*$", re.IGNORECASE)
_BRACKET = re.compile(r"\[\s*(?P<n>\d{1,15})\s*/\s*(?P<total>\d{1,15})\s+(?:\d+:\d\d|\d+(?:\.\d+)?\s*(?:s|ms)\b)")
_EPOCH = re.compile(
    r"(?<![\w.\-/])epoch\s*(?:[:=#]\s*|\s+|(?=[\[(]))[\[(]?\s*(?P<e>\d{1,9})(?:(?:\s*/\s*|\s+of\s+)(?P<of>\d{1,9}))?"
    r"\s*[\])]?(?![\d.%])",
    re.IGNORECASE,
)
"""An epoch index (``Epoch [1/5]``, ``Epoch: 1``, ``epoch   1``, ``Epoch[1]``); ``epoch 0.25`` is a fraction, not
one."""
_LEADING = re.compile(
    r"\s*\[\s*(?P<a>\d{1,15})\s*/\s*(?P<b>\d{1,15})\s*\](?:\s*\[\s*(?P<n>\d{1,15})\s*/\s*(?P<total>\d{1,15})\s*\])?"
)
"""Counters in brackets that start the line: ``[100/1000] loss: 0.5``, or an epoch and a batch, pytorch/examples'
DCGAN ``[0/25][50/1583] Loss_D: 0.5141 Loss_G: 3.2104``."""
_STEP_PAIRS = re.compile(r"\s*\[\s*(?P<n>\d{1,15})\s*\](?:\s+collection=\S+)?\s+(?P<pairs>[\w/.\-]+=)")
"""A step in brackets that starts ``name=value`` pairs: CLU's ``LoggingWriter`` (google/CommonLoopUtils at 04ad2f9,
``clu/metric_writers/logging_writer.py``: ``[%d]%s %s``), the metric writer of Flax's examples and other JAX code:
``[100] learning_rate=0.001, loss=2.301`` (``[100] collection=train loss=…`` with a collection)."""
_METRIC_VALUE = re.compile(r"(?<![a-z0-9])(?:loss|lr|acc(?:uracy)?|time)\w*\s*[:=]?\s*[-+]?\d", re.IGNORECASE)
"""A metric with its value, which a line starting with bare brackets must print: build steps (``[3/10] Building
CXX object loss.o``) start that way too."""
_COUNT = re.compile(r"(?<![\w.:/\-])(?P<n>\d{1,15})\s*/\s*(?P<total>\d{1,15})(?![\w.:/\-])")
"""A bare ``n/N`` counter (after an epoch: ``[6400/60000 (11%)]``, ``(11/200)``, ``200/ 2983 batches``)."""
_TQDM = re.compile(r"\d/\d+\s*\[\d+:\d\d")
"""A tqdm bar's counter and clock: bars are the tqdm and Lightning families', epoch or not."""
_EVAL_LOOP = re.compile(r"\[\s*\d+\s*/\s*\d+|\d/\d+\s*\[|%\|", re.IGNORECASE)
"""An evaluation loop's counter or bar (``Test: [ 10/196]``, ``5/10 [00:01<…``): not a summary."""
_SUMMARY = re.compile(r"(?<![a-z0-9])(?:loss|acc(?:uracy)?|ppl|perplexity)(?![a-z0-9])", re.IGNORECASE)
"""What an evaluation's summary reports, also as part of a key (``val_loss 0.63``, ``eval_accuracy: 0.9``)."""
_EVALUATION = re.compile(
    r"(?<![a-z0-9])(?:val|valid|validation|eval|evaluat\w*|test(?:ing)?|sanity|predict\w*)(?![a-z0-9])", re.IGNORECASE
)
"""An evaluation named, also as part of a key (``val_loss``)."""
_METRIC = re.compile(
    r"(?<![a-z0-9])(?:loss|lr|learning[ _]rate|grad[ _]?norm|ppl|perplexity|acc(?:uracy)?|tok(?:ens)?(?:/s|_per_s\w*)|"
    r"it/s|s/it|samples?/s|time|timing|seconds|dt|elapsed)(?![a-z0-9])",
    re.IGNORECASE,
)
"""A training metric's name, also as part of a key (``train_loss``, ``loss_train``, ``step_time``)."""
_TIME = re.compile(
    r"\b(?:step[ _]?time|iter(?:ation)?[ _]?(?:time|dt)|time(?:[ _]per[ _]|/)(?:step|batch|it(?:er(?:ation)?)?)|time|dt)"
    r"\s*(?:\(\w+\))?\s*[:=]?\s*(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>ms|s|us)\b",
    re.IGNORECASE,
)
_SECONDS = re.compile(
    r"(?:\bseconds|\bsec|timing in (?P<unit>s|ms))\s*[:=]\s*(?P<value>\d+(?:\.\d+)?)(?!\s*(?:ms|s|us)\b)", re.IGNORECASE
)
"""A time whose unit is in its name: MaxText's ``seconds: 2.1``, NeMo's ``train_step_timing in s: 0.52``."""
_PER = re.compile(
    r"(?<![\w/])(?P<unit>ms|s|sec)\s*/\s*(?:batch|step|it(?:er(?:ation)?)?)\b\s*[:=]?\s*(?P<value>\d+(?:\.\d+)?)"
    r"|(?<![\d.])(?P<amount>\d+(?:\.\d+)?)\s*(?P<per>ms|s|sec)\s*/\s*(?:batch|step|it(?:er(?:ation)?)?)\b",
    re.IGNORECASE,
)
"""Time per iteration written as a unit per step: ``ms/batch 45.30`` (PyTorch's word language model), ``120
ms/step``."""
_RATE = re.compile(r"(?<![\d.])(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>it/s|s/it)\b")
"""The lookbehind starts a number only at its first digit: without it a 64 KiB run of digits is tried from every
position (quadratic: seconds per record)."""
_STEPS_PER_SECOND = re.compile(
    r"(?<![\w/])(?:steps|it(?:er(?:ation)?s?)?)(?:_per_|/)s(?:ec(?:ond)?)?\s*[:=]?\s*(?P<value>\d+(?:\.\d+)?)", re.IGNORECASE
)
"""A rate named before its value: CLU's ``steps_per_sec=4.1``, ``It/sec 4.000``."""
_LOSS = re.compile(
    r"(?P<key>(?<![\w/])[\w/]*loss)\s*[:=]?\s*(?P<value>[-+]?(?:\d+(?:\.\d+)?(?:e[-+]?\d+)?|nan|inf))\b", re.IGNORECASE
)
BACKWARDS_SLACK = 1
"""A counter may repeat or step back by this much (a repeated bar update) before it reads as another counter."""


@dataclass(frozen=True, slots=True)
class _Counter:
    """A training line's counter: ``n`` (of ``total``), within ``epoch`` (as printed, of ``epochs``) if it names one."""

    n: int
    total: int | None
    epoch: int | None = None
    epochs: int | None = None
    whole_epoch: bool = False
    """The line counts epochs only (``n`` is the epoch): a loop that logs once per epoch."""


@dataclass(frozen=True, slots=True)
class _Epochs:
    """Where a counter printed beside an epoch stands in the run (see the module docstring); ``place`` gives the
    state after a line, which the parser keeps only when it takes the line."""

    base: int | None = None
    """The first epoch's number (0 or 1)."""
    per_epoch: bool | None = None
    """Whether the counter starts over each epoch; None until the first new epoch shows it."""
    last: tuple[int, int] | None = None
    """(epoch, counter) of the last training line."""
    step: int = 0
    """The counter's last step within an epoch (its logging interval)."""
    offset: int = 0
    """Iterations of the epochs done, for a per-epoch counter without a printed total."""

    def starts_over(self, epoch: int, n: int) -> bool:
        """Whether a line at (``epoch``, ``n``) starts a new run: the first epoch's first batch, after others."""
        return self.last is not None and n <= 1 and epoch <= (self.base or 0)

    def place(self, counter: _Counter, epoch: int) -> tuple[Progress, _Epochs]:
        base = epoch_base(epoch) if self.base is None else self.base
        per_epoch, step, offset, n = self.per_epoch, self.step, self.offset, counter.n
        if self.last is not None:
            last_epoch, last_n = self.last
            if epoch > last_epoch and per_epoch is None:
                per_epoch = n <= last_n  # a run-wide counter would have gone on
            if epoch > last_epoch and per_epoch:
                offset += last_n + step
            elif epoch == last_epoch and n > last_n:
                step = n - last_n
        after = _Epochs(base, per_epoch, (epoch, n), step, offset)
        index = max(0, epoch - base)
        if per_epoch is not False and counter.total:
            progress = Progress(n, total_iterations=counter.total, epoch=index, total_epochs=counter.epochs,
                                batches_per_epoch=counter.total)
        elif per_epoch:
            progress = Progress(offset + n, epoch=index)
        else:
            progress = Progress(n, total_iterations=counter.total, epoch=index)
        return progress, after


class GenericParser(Parser):
    """Step counters in common shapes, for logs of trainers no other family knows."""

    name = "generic"

    def __init__(self) -> None:
        self._last: int | None = None
        self._epochs = _Epochs()
        self._evaluated_at: int | None = None
        self._batches = False
        """Whether a line counted batches (or steps): then lines that count only epochs are summaries."""
        self._named: tuple[int, int | None] | None = None
        """(epoch, of how many) a line of its own named since the last counter."""
        self._pass: tuple[int, int | None] | None = None
        """(epoch, of how many) of the counters printed without one, once a named epoch or a pass made it known."""
        self._plain: tuple[int, int | None, int] | None = None
        """(counter, total, step) of the last counter printed without an epoch."""

    def parse(self, text: str) -> list[Event]:
        text = text[:SCAN_LIMIT]
        bar = _TQDM.search(text) is not None
        if bar:
            self._batches = True  # the log counts batches in bars (the tqdm and Lightning families' lines)
        counter = self._counter(text, bar)
        if counter is not None and counter.whole_epoch and self._batches:
            counter = None  # an epoch's summary in a log that counts batches
        if _EVALUATION.search(text) and (counter is None or not counter.whole_epoch):
            return self._summary(text)  # (a loop that logs once per epoch names its validation on the same line)
        if counter is None:
            named = None if bar else _EPOCH.search(text)
            if named is not None:
                self._named = (int(named.group("e")), int(named.group("of")) if named.group("of") else None)
            return []
        if counter.epoch is None and not counter.whole_epoch:
            counter = self._in_pass(counter)
        epochs = self._epochs
        if counter.whole_epoch:
            if epochs.base is None:
                epochs = replace(epochs, base=epoch_base(counter.n))
            # Epochs done: the printed one counts itself (``Epoch [1/200]`` is the first done, ``Epoch 0`` too); an
            # epoch of one iteration, so that ``--total-epochs`` gives the total where the line does not.
            index = counter.n - (epochs.base or 0)
            event = Progress(1, total_iterations=1, epoch=index, total_epochs=counter.total, batches_per_epoch=1)
        else:
            self._batches = True
            if counter.epoch is None:
                event = Progress(counter.n, total_iterations=counter.total)
            else:
                if epochs.starts_over(counter.epoch, counter.n):
                    epochs = _Epochs()  # a new run: its epochs count afresh
                event, epochs = epochs.place(counter, counter.epoch)
        position = event.global_iteration
        if self._last is not None and position < self._last - BACKWARDS_SLACK and position > 1:
            return []
        self._last, self._epochs = position, epochs
        event.iteration_seconds = self._seconds(text)
        event.loss = self._loss(text)
        return [event]

    def _in_pass(self, counter: _Counter) -> _Counter:
        """A counter printed without an epoch, with the epoch of its pass where one is known (the module doc): the
        passes are counted (a line between them may name the epoch done or the one to come), a line names how many."""
        named, self._named = self._named, None
        plain = self._plain
        wrapped = restart = False
        step = 0
        if plain is not None:
            last, total, step = plain
            # It reached its total (within one logging step) and starts over with the same total.
            wrapped = total is not None and counter.total == total and counter.n < last and last + max(step, 1) > total
            restart = not wrapped and counter.n < last and counter.n <= 1
            step = counter.n - last if counter.n > last else step
        self._plain = (counter.n, counter.total, step)
        if restart:
            self._pass, self._epochs = None, _Epochs()  # a new run: its passes count afresh
        elif plain is None and named is not None and named[0] <= 1:
            self._pass = named  # the first pass, named before it
        elif wrapped:
            if self._pass is None:  # the first pass was not named: the passes count from 0
                self._epochs, self._pass = replace(self._epochs, base=0), (0, None)
            self._pass = (self._pass[0] + 1, named[1] if named is not None and named[1] else self._pass[1])
        return counter if self._pass is None else _Counter(counter.n, counter.total, *self._pass)

    def _summary(self, text: str) -> list[Event]:
        """An evaluation line: an ``Eval`` when it sums one up (once per training position), else nothing."""
        at = self._last
        if at is None or at == self._evaluated_at or _EVAL_LOOP.search(text) or _KEYWORD.search(text):
            return []
        if not _SUMMARY.search(text):
            return []
        self._evaluated_at = at
        return [Eval(iteration=at, loss=self._loss(text, evaluation=True))]

    @staticmethod
    def _counter(text: str, bar: bool) -> _Counter | None:
        """The line's counter; ``bar``: it holds a tqdm bar (``_TQDM``), which is never an epoch's counter."""
        if text.lstrip().startswith("Namespace("):
            return None  # argparse's echo of the settings (``epoch=10, lr=0.01``), not progress
        m = _BRACKET.search(text)
        if m:
            n, total = integer(m.group("n")), integer(m.group("total"))
            if n is not None and total and n <= total:
                return _Counter(n, total)
        if not _METRIC.search(text):
            return None
        epoch = _EPOCH.search(text)
        found = GenericParser._keyword(text, epoch is not None)
        if epoch is None and found is None and not bar:
            return GenericParser._leading(text)
        if epoch is None or bar:
            return found
        e = int(epoch.group("e"))
        of = int(epoch.group("of")) if epoch.group("of") else None
        if found is None:
            count = _COUNT.search(text, epoch.end())
            n = integer(count.group("n")) if count else None
            total = integer(count.group("total")) if count else None
            if n is None or not total or n > total:
                return None if count else _Counter(e, of, whole_epoch=True)
            found = _Counter(n, total)
        return _Counter(found.n, found.total, e, of)

    @staticmethod
    def _leading(text: str) -> _Counter | None:
        m = _LEADING.match(text)
        if m is None:
            pairs = _STEP_PAIRS.match(text)
            found = pairs is not None and _METRIC_VALUE.search(text, pairs.start("pairs")) is not None
            return _Counter(int(pairs.group("n")), None) if pairs is not None and found else None
        if not _METRIC_VALUE.search(text, m.end()):
            return None
        a, b = int(m.group("a")), int(m.group("b"))
        if m.group("n") is None:
            return _Counter(a, b) if 0 < b and a <= b else None
        n, total = int(m.group("n")), int(m.group("total"))
        return _Counter(n, total, a, b) if 0 < total and n <= total and a <= b else None

    @staticmethod
    def _keyword(text: str, epoch: bool) -> _Counter | None:
        for m in _KEYWORD.finditer(text):
            if _NOT_PROGRESS.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            key = m.group("key").lower()
            if key == "it" and m.group("total") is None:
                continue  # a bare "it 12" is too ambiguous (it/s, "it" as a word)
            if key == "batch" and m.group("total") is None and not epoch:
                continue  # "batch=64" is a batch size; a batch counter has a total or an epoch beside it
            n = integer(m.group("n"))
            total = integer(m.group("total")) if m.group("total") else None
            if n is not None and (total is None or 0 < total and n <= total):
                return _Counter(n, total)
        return None

    @staticmethod
    def _seconds(text: str) -> float | None:
        m = _TIME.search(text)
        if m:
            return step_seconds(m.group("value"), m.group("unit"))
        named = _SECONDS.search(text)
        if named:
            return step_seconds(named.group("value"), named.group("unit") or "s")
        per = _PER.search(text)
        if per:
            unit = (per.group("unit") or per.group("per")).lower()
            return step_seconds(per.group("value") or per.group("amount"), "s" if unit == "sec" else unit)
        rate = _RATE.search(text)
        if rate:
            value = finite(number(rate.group("value")))
            if value:
                return 1.0 / value if rate.group("unit") == "it/s" else value
        named_rate = _STEPS_PER_SECOND.search(text)
        value = finite(number(named_rate.group("value"))) if named_rate else None
        return 1.0 / value if value else None

    @staticmethod
    def _loss(text: str, *, evaluation: bool = False) -> float | None:
        pairs = [(m.group("key"), m.group("value")) for m in _LOSS.finditer(text)]
        if evaluation:  # an evaluation's own loss, however it is named
            return number(pairs[0][1]) if pairs else None
        return pick_loss(pairs)


PARSERS: tuple[type[Parser], ...] = (GenericParser,)
