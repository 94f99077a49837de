"""Property: whatever a log file goes through, the records read equal the records written, in order, none twice.

The model (what the follower can guarantee, and what this test therefore drives):

- A writer emits records ``<NNNNNN>payload`` (unique ids, payload without ``<``, ``\\r``, ``\\n``, with a
  two-byte UTF-8 character so splits inside a character happen) each ended by ``\\n``, ``\\r\\n`` or ``\\r``.
  Appends write the next 1..40 bytes of that stream, so any record can be split at any byte.
- The file goes through *generations*: rename + create, delete + create, copytruncate (truncate in place, the
  writer carries on mid-record), and restart (truncate in place, a new writer starts a fresh record and
  regrows the file past the old offset before the follower polls again).
- Expected records are each generation's bytes framed on their own (``\\r\\n``, ``\\r``, ``\\n``; invalid UTF-8
  replaced; empty records skipped): a record cut by the end of a generation becomes two records (the follower
  flushes the partial record when a generation ends, and the rest starts the next generation).
- Polling is what real polling can see: an in-place truncation destroys bytes, so the follower polls right
  before every copytruncate and restart (the old file fully drained); a renamed or deleted file stays readable
  through the follower's open descriptor, so a poll is needed before rename/delete only if the follower has not
  opened the current generation yet (never polled since it was created). A copytruncate is seen by its smaller
  size (a poll follows it before the writer grows the file again); a restart is seen by the fingerprint, so it
  is only regrown after the follower read at least a record id (8 bytes) of the old generation: a regrown file
  whose first bytes equal everything the follower had read is indistinguishable from an appended one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.sources import FileFollower, expand

_TERMINATORS = [b"\n", b"\r\n", b"\r"]
_SPLIT = re.compile(rb"\r\n|\r|\n")

ops = st.lists(
    st.one_of(
        st.tuples(st.just("append"), st.integers(1, 40)),
        st.tuples(st.just("poll"), st.just(0)),
        st.tuples(st.sampled_from(["rename", "recreate", "copytruncate", "restart"]), st.just(0)),
    ),
    min_size=1,
    max_size=40,
)


class Writer:
    """The byte stream of unique records, handed out in arbitrary pieces."""

    def __init__(self, data: st.DataObject) -> None:
        self._data = data
        self._next = 0
        self._pending = b""

    def take(self, n: int) -> bytes:
        while len(self._pending) < n:
            self._new_record()
        piece, self._pending = self._pending[:n], self._pending[n:]
        return piece

    def fresh_start(self) -> None:
        """A new process: the record in progress is abandoned, the next write starts a record."""
        self._pending = b""

    def _new_record(self) -> None:
        self._next += 1
        payload = self._data.draw(st.text(alphabet="ab é", max_size=12), label="payload").encode()
        terminator = self._data.draw(st.sampled_from(_TERMINATORS), label="terminator")
        self._pending += b"<%06d>" % self._next + payload + terminator


def frame(generation: bytes) -> list[str]:
    pieces = _SPLIT.split(generation)
    return [piece.decode("utf-8", "replace") for piece in pieces if piece]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(script=ops, data=st.data())
def test_records_read_equal_records_written(script: list[tuple[str, int]], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.log"
        path.write_bytes(b"")
        follower = FileFollower(str(path), clock=lambda: 0.0)
        writer = Writer(data)
        generations: list[bytes] = [b""]
        read: list[str] = []
        polled_since_created = False
        rotations = 0

        def poll() -> None:
            nonlocal polled_since_created
            read.extend(r.text for r in expand(follower.poll()))
            polled_since_created = True

        def new_generation() -> None:
            nonlocal polled_since_created
            generations.append(b"")
            polled_since_created = False

        def append(chunk: bytes) -> None:
            with open(path, "ab") as f:
                f.write(chunk)
            generations[-1] += chunk

        for op, n in script:
            if op == "append":
                append(writer.take(n))
            elif op == "poll":
                poll()
            elif op in ("rename", "recreate"):
                if not polled_since_created:
                    poll()
                rotations += 1
                if op == "rename":
                    os.rename(path, Path(tmp) / f"train.log.{rotations}")
                else:
                    os.remove(path)
                path.write_bytes(b"")
                new_generation()
            elif op == "copytruncate":
                poll()
                os.truncate(path, 0)
                new_generation()
                poll()
            else:  # restart
                poll()
                old_size = len(generations[-1])
                os.truncate(path, 0)
                new_generation()
                writer.fresh_start()
                if follower.offset < 8:
                    poll()
                else:
                    while len(generations[-1]) <= old_size:
                        append(writer.take(16))
        poll()
        read.extend(r.text for r in follower.finish())

        expected = [record for generation in generations for record in frame(generation)]
        assert read == expected
        assert follower.stats.read_errors == 0
