"""A run's state file (``--state.directory``): what a restarted sidecar needs to continue without reading the log
again, like Promtail's positions file or Fluent Bit's offset DB, plus the estimator's bounded state.

One file per run, ``<run>-<hash of the log spec>.state``, written atomically (a temporary file in the same
directory, fsync, rename) at most every ``SAVE_SECONDS`` while new records were read, and at shutdown. It holds
the source's ``Checkpoint`` (per file: device, inode, fingerprint, offset, partial record; the read counters)
and the worker's pipelines, estimators and published state, pickled. Pickle runs code from the file it loads, so a state file is only read when this user
owns it and nobody else can write it (mode 0600, created so); anything else (another owner, a group- or
world-writable file, another exporter build, a corrupt or truncated file) is a warning and a full read of the
log, never a crash. The injected clock is not stored: it is handed back to the restored objects on load.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import pickle
import re
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exporter import __version__

log = logging.getLogger("exporter.statefile")

FORMAT_VERSION = 1
"""Bumped whenever what a state file holds changes shape; with the package version and the code's digest it must
match to load."""
SAVE_SECONDS = 5.0
"""Least interval between two saves: a SIGKILL loses at most this much reading, which is read again."""
_CLOCK = "clock"


@dataclass(frozen=True, slots=True)
class Saved:
    """What one state file holds."""

    version: str
    log: str
    """The run's log spec: a state file of another log is not this run's."""
    payload: dict[str, Any]


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, clock: Callable[[], float]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._clock = clock

    def persistent_id(self, obj: Any) -> str | None:
        return _CLOCK if obj is self._clock else None


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: Any, clock: Callable[[], float]) -> None:
        super().__init__(file)
        self._clock = clock

    def persistent_load(self, pid: Any) -> Any:
        if pid != _CLOCK:
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return self._clock


@functools.cache
def _version() -> str:
    """The exporter's version, the file format's and a digest of the package's code: a state file pickles the
    code's own objects, so one written by any other build (even of the same version number) is not loaded."""
    digest = hashlib.sha256()
    package = Path(__file__).resolve().parent
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{__version__}/{FORMAT_VERSION}/{digest.hexdigest()[:16]}"


class StateFile:
    """The state file of one run in ``directory``."""

    def __init__(self, directory: str, run: str, log_spec: str) -> None:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run)[:64] or "run"
        digest = hashlib.sha256(log_spec.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        self.directory = directory
        self.path = os.path.join(directory, f"{safe}-{digest}.state")
        self.log_spec = log_spec
        self._warned: str | None = None

    def save(self, payload: dict[str, Any], clock: Callable[[], float]) -> bool:
        """Write ``payload`` atomically; False (logged once per kind of failure) when it cannot be written."""
        try:
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.directory)  # created 0600
            try:
                with os.fdopen(fd, "wb") as handle:
                    _Pickler(handle, clock).dump(Saved(_version(), self.log_spec, payload))
                    handle.flush()
                    os.fsync(handle.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass
                raise
        except (OSError, pickle.PicklingError, TypeError, AttributeError) as exc:
            self._warn(f"cannot write the state file {self.path}: {exc}")
            return False
        self._warned = None
        return True

    def load(self, clock: Callable[[], float]) -> dict[str, Any] | None:
        """The saved payload, or None (with a warning unless there is no file yet) when it cannot be used."""
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            self._warn(f"cannot read the state file {self.path} ({exc.strerror or exc}); reading the log from its start")
            return None
        with os.fdopen(fd, "rb") as handle:
            st = os.fstat(handle.fileno())
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
                self._warn(f"ignoring the state file {self.path}: it must be a regular file owned by this user and "
                           "writable by nobody else; reading the log from its start")
                return None
            try:
                saved = _Unpickler(handle, clock).load()
            except Exception as exc:  # noqa: BLE001 - a corrupt or truncated file raises almost anything
                self._warn(f"the state file {self.path} is unreadable ({type(exc).__name__}); reading the log "
                           "from its start")
                return None
        if not isinstance(saved, Saved) or saved.version != _version() or saved.log != self.log_spec:
            found = saved.version if isinstance(saved, Saved) else type(saved).__name__
            self._warn(f"the state file {self.path} is from another version or log ({found}); reading the log "
                       "from its start")
            return None
        return saved.payload

    def _warn(self, message: str) -> None:
        if message != self._warned:
            log.warning("%s", message)
            self._warned = message
