"""fairseq's ``simple`` progress bar (non-TTY logs; facebookresearch/fairseq at 3d262bb2,
``fairseq/logging/progress_bar.py`` ``SimpleProgressBar.log`` and ``.print``):

- ``epoch 001:    100 / 1234 loss=9.213, nll_loss=9.1, ppl=549.3, wps=12345, ups=3.2, wpb=3840, bsz=128,
  num_updates=100, lr=1e-05, gnorm=2.1, train_wall=30, gb_free=10.2, wall=35`` (logged under ``train_inner``,
  after the logging prefix ``2021-03-01 12:00:00 | INFO | train_inner | ``): the counter is ``num_updates``
  (optimizer updates over the whole run), else the epoch's ``i / size``; ``ups`` (updates per second) gives the
  time per update. Older fairseq printed the same with a leading ``| `` (``| epoch 010:   3000 / 8223 loss=…``).
- ``epoch 001 | valid on 'valid' subset | loss 8.9 | …``: a validation result; ``epoch 001 | loss 9.0 | … |
  num_updates 1234`` (``print`` at the epoch's end) is progress at that update.
- ``max_update``: the run's size, from the echoed config (``'max_update': 100000`` or ``max_update=100000``).
"""

from __future__ import annotations

import re

from exporter.events import Config, Eval, Event, Progress
from exporter.formats._values import SCAN_LIMIT, finite, integer, number
from exporter.formats.base import Parser

_INNER = re.compile(r"(?:^|\| )epoch (?P<epoch>\d+):\s+(?P<i>\d+) / (?P<size>\d+) (?P<rest>\S+=.*)$")
_PAIR = re.compile(r"(\w+)=([^,\s]+)")
_EPOCH_END = re.compile(r"(?:^|\| )epoch (?P<epoch>\d+) \| (?P<rest>.*\bnum_updates \d+.*)$")
_VALID = re.compile(r"(?:^|\| )epoch (?P<epoch>\d+) \| valid on '[^']*' subset \| (?P<rest>.*)$")
_PIPE_PAIR = re.compile(r"(\w+) ([^|\s]+)")
_MAX_UPDATE = re.compile(r"['\"]?max_update['\"]?\s*[:=]\s*(\d+)")


class FairseqParser(Parser):
    """fairseq ``train_inner`` lines, epoch summaries, validation results and ``max_update``."""

    name = "fairseq"

    def __init__(self) -> None:
        self._updates: int | None = None

    def parse(self, text: str) -> list[Event]:
        text = text[:SCAN_LIMIT]
        if "max_update" in text:
            m = _MAX_UPDATE.search(text)
            total = integer(m.group(1)) if m else None
            return [Config(total_iterations=total)] if total else []
        if "epoch " not in text:
            return []
        if "valid on '" in text:
            valid = _VALID.search(text)
            if valid:
                pairs = dict(_PIPE_PAIR.findall(valid.group("rest")))
                at = integer(pairs.get("num_updates"))
                return [Eval(iteration=at if at is not None else self._updates, loss=number(pairs.get("loss")),
                             done=True)]
            return []
        inner = _INNER.search(text)
        if inner:
            pairs = dict(_PAIR.findall(inner.group("rest")))
            updates = integer(pairs.get("num_updates"))
            ups = finite(number(pairs.get("ups")))
            seconds = 1.0 / ups if ups else None
            loss = number(pairs.get("loss"))
            epoch = int(inner.group("epoch")) - 1
            if updates is not None:
                self._updates = updates
                return [Progress(updates, iteration_seconds=seconds, loss=loss, epoch=epoch)]
            # Without num_updates: the epoch's own counter (1-based index of the batch just done).
            return [Progress(int(inner.group("i")), iteration_seconds=seconds, loss=loss, epoch=epoch,
                             batches_per_epoch=int(inner.group("size")))]
        end = _EPOCH_END.search(text)
        if end:
            pairs = dict(_PIPE_PAIR.findall(end.group("rest")))
            updates = integer(pairs.get("num_updates"))
            if updates is not None:
                self._updates = updates
                return [Progress(updates, loss=number(pairs.get("loss")), epoch=int(end.group("epoch")) - 1)]
        return []


PARSERS: tuple[type[Parser], ...] = (FairseqParser,)
