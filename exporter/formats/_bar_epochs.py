"""Which epoch a pass of the training bar is, for the loops that draw the bar again each epoch.

Without this each pass reads as a run of its own, whose ETA (like the bar's own remaining time) ends with the epoch.
A pass is an epoch of the run when:

- a bar over epochs is drawn around it (``for epoch in trange(3): for batch in tqdm(loader): …``, the most common
  nested loop): a bar the training bar replaced at 0, whose count is then the epoch and whose total the epochs. It
  is that bar at once where its description says epochs, else once it moved on by one and the training bar started
  over (until then it reads as an evaluation; one that moves twice meanwhile is one). Meanwhile the first pass is taken as its first epoch until it completes (then it is one run's
  bar, which finishes there, until the bar over epochs moves on): a bar drawn at 0 just before the training bar is
  almost always the loop around it. Its moving on also ends an epoch whose ``leave=False`` bar never drew its last
  step;
- a line names an epoch between two passes (``print(f"Epoch {e + 1}/{E}")`` before or after each pass): the pass
  after it is the next epoch, of the epochs the line counts (``Epoch 2/10``, ``epoch 2 of 10``; without them, of as
  many as ``--total-epochs`` says). Such a line before any bar makes the first pass the first epoch at once, until
  a line names another epoch while that pass runs (then it is one bar over all epochs, drawn after the line);
- the pass's description counts on from the one before (``desc=f"Train {e}"``, ``[3/10]``, or ``Epoch 1 loss
  0.412`` set in the loop, which a pass draws from its second redraw on).

Each needs the training bar to complete and start over with the same total: one that starts over before it
completed is another run (a resume), as is a pass after a completed one that nothing says is an epoch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EPOCHS_DESC = re.compile(r"\bepochs?\b", re.IGNORECASE)
_EPOCH_LINE = re.compile(r"\bepoch\s*[:\[(#]?\s*(\d{1,9})(?:\s*(?:/|\bof\b)\s*(\d{1,9}))?", re.IGNORECASE)
"""A line that names an epoch (``Epoch 2/10``, ``=== epoch 2 of 10 ===``, ``Epoch [2/10] loss: …``): its number and
how many there are."""
_NUMBER = re.compile(r"\d{1,9}")
_OF = re.compile(r"\s*(?:/|\bof\b)\s*$")


@dataclass(frozen=True, slots=True)
class Pass:
    """The training bar as its latest redraw left it (``n`` None before any)."""

    desc: str
    n: int | None
    total: int | None

    @property
    def done(self) -> bool:
        return self.total is not None and self.n is not None and self.n >= self.total


class BarEpochs:
    """The epoch of the training bar's pass and the run's epochs, as the bars and lines around it say (module doc)."""

    def __init__(self) -> None:
        self.epoch: int | None = None
        """The epoch of the pass: the count of the bar over epochs, or the passes counted; None: not known to be one."""
        self.epochs: int | None = None
        """How many epochs the run has, where something says it."""
        self._outer: tuple[str, int] | None = None
        """(description, total) of the bar over epochs, once known."""
        self._candidate: tuple[str, int, int] | None = None
        """(description, total, latest count) of a bar the training bar replaced at 0: maybe the bar over epochs."""
        self._candidate_moved = False
        """Whether the candidate moved on by one (after the training bar's last redraw, which a ``leave=False`` bar may
        draw short of its end) since the training bar last started over."""
        self._named = False
        """Whether a line named an epoch between two passes of the training bar (or before the first)."""
        self._named_at: int | None = None
        """Where the training bar was when it did (None: before any bar): the restart it counts for starts there."""
        self._named_epochs: int | None = None
        """How many epochs such a line said there are."""
        self._named_number: int | None = None
        """The epoch the latest line named."""
        self._unsaid: str | None = None
        """The description of the pass before, while a pass that started over without one may be the next epoch."""
        self._tentative = False
        """Whether the first pass is the first epoch only because a line before any bar said so."""
        self.guessed = False
        """Whether the first pass is the first epoch only because a bar that may be over epochs was drawn before it,
        until that pass completes."""

    def is_outer(self, desc: str, total: int | None) -> bool:
        return self._outer is not None and (desc, total) == self._outer

    def watches(self, desc: str, total: int | None) -> bool:
        """Whether a bar of ``desc`` and ``total`` is the candidate's: each redraw of it may decide (``other_bar``)."""
        return self._candidate is not None and self._candidate[:2] == (desc, total)

    def other_bar(self, desc: str, total: int | None, n: int) -> None:
        """A bar that is neither the training bar nor the bar over epochs: the candidate, when it is that bar again."""
        candidate = self._candidate
        if candidate is None or (desc, total) != candidate[:2] or n == candidate[2]:
            return
        if self._candidate_moved or n != candidate[2] + 1:
            self._candidate = None  # it moves as an evaluation bar does, not once per pass of the training bar
            self._unguess()
        else:
            self._candidate, self._candidate_moved = (desc, candidate[1], n), True

    def line(self, text: str, main: Pass) -> None:
        """A line that is no bar."""
        found = _EPOCH_LINE.search(text) if "poch" in text else None
        if found is None:
            return
        number = int(found.group(1))
        if main.n is None or main.done:
            self._named, self._named_at = True, main.n
            self._named_epochs = int(found.group(2)) if found.group(2) else self._named_epochs
        elif self._tentative and number != self._named_number:
            self.epoch = self.epochs = None
            self._tentative = False
        self._named_number = number

    def before(self, desc: str, total: int | None, n: int, main: Pass | None) -> None:
        """Before the training bar's redraw (``desc``, ``total``, ``n``); ``main`` is the bar before it, None before
        any."""
        if main is None:
            if self._named and self._named_epochs and self._outer is None:
                self.epoch, self.epochs, self._tentative, self._named = 0, self._named_epochs, True, False
        elif total != main.total:
            if main.n == 0 and main.total is not None and total is not None and main.total < total:
                if _EPOCHS_DESC.search(main.desc):
                    self._outer, self.epoch, self.epochs = (main.desc, main.total), 0, main.total
                else:
                    self._candidate, self._candidate_moved = (main.desc, main.total, 0), False
                    if self.epoch is None:
                        self.epoch, self.epochs, self.guessed = 0, main.total, True
        elif self.guessed and total is not None and n >= total:
            self._unguess()  # the first pass completes: the bar of a run of one pass, until the bar around it moves
        elif main.n is not None and n < main.n:
            self._start_over(desc, main)
        elif self._unsaid is not None and desc:
            counted = _counted_on(self._unsaid, desc)
            self.epoch = None if counted is None else self.epoch  # it does not count on: another run after all
            self.epochs = None if counted is None else counted or self.epochs
            self._unsaid = None

    def _unguess(self) -> None:
        if self.guessed:
            self.epoch = self.epochs = None
            self.guessed = False

    def _start_over(self, desc: str, main: Pass) -> None:
        """The training bar starts over: the bar over epochs known at last, or the next epoch after a line or a
        description that says so, else another run."""
        if self._candidate is not None and self._candidate_moved:
            outer_desc, total, count = self._candidate
            self._outer, self.epoch, self.epochs, self._candidate = (outer_desc, total), count, total, None
            return
        if self._outer is not None:
            return
        counted = _counted_on(main.desc, desc) if main.done else None
        # A description set in the loop (``set_description``) is drawn from the pass's second redraw on.
        self._unsaid = main.desc if main.done and not desc and _NUMBER.search(main.desc) else None
        named = (self._named and self._named_at == main.n) or counted is not None or self._unsaid is not None
        self._named = False  # a line counts for the pass after it only
        self.epoch = (self.epoch or 0) + 1 if named else None
        self.epochs = (counted or self._named_epochs or self.epochs) if named else None
        self._tentative = False


def _counted_on(before: str, after: str) -> int | None:
    """Whether description ``after`` names the pass after ``before``'s: the same words, the first number that changes
    one up and whole (``Train 0`` then ``Train 1``, ``[2/10]`` then ``[3/10]``, ``Epoch 0 loss 0.021`` then ``Epoch 1
    loss 0.412``). None if not; else the epochs when that number is ``n/N`` or ``n of N`` (its N), 0 if it says none."""
    words, numbers, earlier = _NUMBER.split(after), _NUMBER.findall(after), _NUMBER.findall(before)
    if words != _NUMBER.split(before):
        return None
    i = next((i for i, (old, new) in enumerate(zip(earlier, numbers)) if old != new), None)
    if i is None or int(numbers[i]) != int(earlier[i]) + 1 or words[i].endswith(".") or words[i + 1].startswith("."):
        return None  # no number counts on first, or the first that changes is a decimal's (a loss in the description)
    return int(numbers[i + 1]) if i + 1 < len(numbers) and _OF.fullmatch(words[i + 1]) else 0
