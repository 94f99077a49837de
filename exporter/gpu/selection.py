"""Which GPUs to report (``--gpu.devices``): all, NVML indices and UUIDs, or the GPUs a process tree uses."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GpuSelection:
    """Which GPUs to report: all (default), NVML indices and/or UUIDs, or the GPUs a process tree uses."""

    devices: tuple[int | str, ...] = ()
    """NVML indices (``nvidia-smi`` order) or UUIDs; empty means all."""
    pid: int | None = None
    """Report only GPUs running this PID or one of its descendants (needs a shared PID namespace)."""

    @classmethod
    def parse(cls, text: str) -> GpuSelection:
        """Parse ``all``, ``pid:1234`` or a comma list like ``0,2,GPU-5f1c…``; ValueError says what is wrong."""
        text = text.strip()
        if text in ("", "all"):
            return cls()
        if text.startswith("pid:"):
            value = text.removeprefix("pid:").strip()
            if not value.isdigit() or int(value) <= 0:
                raise ValueError(f"GPU selection {text!r}: pid must be a positive integer")
            return cls(pid=int(value))
        devices: list[int | str] = []
        for item in (part.strip() for part in text.split(",")):
            if item.isdigit():
                devices.append(int(item))
            elif item.startswith(("GPU-", "MIG-")):
                devices.append(item)
            else:
                raise ValueError(
                    f"GPU selection {text!r}: {item!r} is neither an index nor a UUID (GPU-…); "
                    "use 'all', 'pid:N' or a comma-separated list"
                )
        return cls(devices=tuple(devices))

    def __str__(self) -> str:
        if self.pid is not None:
            return f"pid:{self.pid}"
        return ",".join(str(d) for d in self.devices) if self.devices else "all"


def proc_parent_pid(pid: int) -> int | None:
    """Parent PID from ``/proc/PID/stat``, or None when the process is gone or invisible."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None
