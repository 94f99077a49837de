"""How NVML errors are classified: by the ``pynvml.NVMLError_<Kind>`` suffix, into field, device and driver errors."""

from __future__ import annotations

FIELD_ERROR_KINDS = frozenset({"NotSupported", "NoPermission", "FunctionNotFound"})
"""Errors that concern one field of one device and will not change until a restart: omit and remember."""

DRIVER_ERROR_KINDS = frozenset({"DriverNotLoaded", "Uninitialized", "LibRmVersionMismatch", "LibraryNotFound"})
"""Errors that invalidate every handle: re-initialise NVML."""

UNEXPECTED_KIND = "Unexpected"
"""Kind counted for a non-NVML exception (a bug or a binding mismatch), so it still never escapes the loop."""


def error_kind(exc: BaseException) -> str:
    """Bounded label for an exception: ``NVMLError_GpuIsLost`` → ``GpuIsLost``, no ``pynvml`` → ``LibraryNotFound``."""
    if isinstance(exc, ImportError):
        return "LibraryNotFound"
    if isinstance(exc, AttributeError):
        # An nvidia-ml-py older than the function we call.
        return "FunctionNotFound"
    name = type(exc).__name__
    if name.startswith("NVMLError_"):
        return name.removeprefix("NVMLError_")
    if name == "NVMLError":
        # The base class is used for codes newer than this nvidia-ml-py knows.
        return "Unknown"
    return UNEXPECTED_KIND


def backoff(failures: int, initial: float, maximum: float) -> float:
    """Seconds to wait after ``failures`` consecutive failures: doubling from ``initial``, capped at ``maximum``."""
    return min(maximum, initial * 2 ** max(0, failures - 1))
