"""Shared state of the families that print an epoch and a batch counter (MetricLogger, timm, OpenMMLab), and the
rule for where a trainer's epoch numbers start (the generic family, hand-written loops' tqdm bars)."""

from __future__ import annotations

from exporter.events import Eval, Event, Progress
from exporter.formats._values import finite, number


def epoch_base(first: int) -> int:
    """The number a trainer's epochs start from, seen from the first one it prints: 0 for 0, else 1 (a log that
    starts at a later epoch is a resumed run of epochs counted from 1)."""
    return 0 if first == 0 else 1


class EpochTracker:
    """The last training position and whether an evaluation is open.

    An evaluation whose closing line is missing (or not recognised) is closed by the next training line; an
    evaluation is reported at the global iteration (epoch × batches per epoch + batch) of the last training line.
    """

    def __init__(self) -> None:
        self.last: tuple[int | None, int, int | None] | None = None
        """(0-based epoch or None, batch, batches per epoch or None) of the last training line."""
        self.eval_open = False

    def global_iteration(self) -> int | None:
        """The last training line's position counted over the whole run (its batch where no epoch is known)."""
        if self.last is None:
            return None
        epoch, n, per_epoch = self.last
        return epoch * per_epoch + n if epoch is not None and per_epoch else n

    def eval(self, *, done: bool, seconds: float | None = None) -> list[Event]:
        """An evaluation line: opens the evaluation, or closes it when ``done`` (having taken ``seconds``, when the
        line says)."""
        self.eval_open = not done
        return [Eval(iteration=self.global_iteration(), done=done, seconds=seconds)]

    def train(
        self,
        *,
        epoch: int | None,
        n: int,
        total: int | None,
        seconds: str | None,
        data_seconds: str | None,
        loss: str | None,
    ) -> list[Event]:
        """A training line's Progress (from the printed values), after closing an evaluation left open."""
        out: list[Event] = []
        if self.eval_open:
            self.eval_open = False
            out.append(Eval(iteration=self.global_iteration(), done=True))
        self.last = (epoch, n, total)
        out.append(
            Progress(
                iteration=n,
                total_iterations=total,
                iteration_seconds=finite(number(seconds)),
                data_seconds=finite(number(data_seconds)),
                loss=number(loss),
                epoch=epoch,
                batches_per_epoch=total if epoch is not None else None,
            )
        )
        return out
