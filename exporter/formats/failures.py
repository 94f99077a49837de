"""A trainer's fatal error in its log, whatever the trainer: the last line of a Python traceback.

Python prints an exception nothing caught as ``Traceback (most recent call last):``, the indented frames (``  File
"train.py", line 9, in <module>``, the source lines, 3.11's ``^^^^`` markers), then ``ExceptionType: message``
(``torch.OutOfMemoryError: CUDA out of memory. …``, ``KeyboardInterrupt``); chained exceptions repeat the block after
``During handling of the above exception, another exception occurred:``, so each block's line is a ``Failure`` and
the last is the one that ended the process; ``Fatal Python error: Segmentation fault`` and Lightning's ``Detected
KeyboardInterrupt, attempting graceful shutdown ...`` are ones too. A ``Failure`` says what was printed:
``logging.exception`` prints a caught one the same way, and progress after it shows the run went on (the estimator
then forgets it).
"""

from __future__ import annotations

import re

from exporter.events import Failure

HEADER = "Traceback (most recent call last):"
FATAL = ("Fatal Python error: ", "Detected KeyboardInterrupt, attempting graceful shutdown")
"""Lines that end a process without a traceback: the interpreter's own death (a segmentation fault in a native
extension with ``faulthandler`` on, as ``python -X faulthandler`` and pytest enable), and Lightning's Ctrl+C, which
it catches to tear down and then ``sys.exit(1)`` (``trainer/call.py``, Lightning-AI/pytorch-lightning at 7f0c3436cd)."""
MESSAGE_CHARS = 300
"""What a failure keeps of its line: the exception and the start of its message (CUDA's run to a paragraph)."""
_KILLED = re.compile(
    r"(?:\S+: line \d+: +\d+ (?:Killed|Segmentation fault)"  # bash's word on a child it lost (SIGKILL: the OOM killer)
    r"|slurmstepd: error: (?:\*\*\* (?:JOB|STEP) \S+ ON \S+ CANCELLED AT|Detected \d+ oom[_-]kill event)"
    r"|srun: error: \S+: tasks? [\d,-]+: (?:Killed|Out Of Memory))"
)
"""A job's end its scheduler or shell prints into the same output: bash's ``bash: line 1: 12345 Killed  python
train.py``, Slurm's ``slurmstepd: error: *** JOB 42 ON node1 CANCELLED AT 2026-12-01T10:00:00 DUE TO TIME LIMIT ***``,
``slurmstepd: error: Detected 1 oom_kill event in StepId=42.batch…``, ``srun: error: node1: task 0: Out Of Memory``."""
_EXCEPTION = re.compile(r"[A-Za-z_][\w.]*(?::|$)")
"""An exception's qualified name that starts the line, alone or before ``: message``."""
FRAME_LINES = 200
"""Lines a traceback may run before its exception's; past that the header was something else's."""


class FailureDetector:
    """One input's tracebacks: whether one is open, and for how many lines."""

    def __init__(self) -> None:
        self._open: int | None = None

    def feed(self, text: str) -> Failure | None:
        """The failure this line ends, if it ends one."""
        if text.startswith(FATAL) or ((": line " in text or text.startswith(("slurmstepd: ", "srun: ")))
                                      and _KILLED.match(text)):
            self._open = None
            return Failure(message=text.strip()[:MESSAGE_CHARS])
        if HEADER in text:  # also after a bar's last redraw that no newline ended (a bar the exception left open)
            self._open = 0
            return None
        if self._open is None:
            return None
        self._open += 1
        if self._open > FRAME_LINES:
            self._open = None
            return None
        if not text.strip() or text[:1] in " \t":
            return None  # a frame, its source line, or a blank
        self._open = None
        return Failure(message=text.strip()[:MESSAGE_CHARS]) if _EXCEPTION.match(text) else None
