"""The data-loader stall the recorder injects: sleep as long as the flag file says, while it exists."""

import os
import time


def maybe_stall() -> None:
    path = os.environ.get("STALL_FILE")
    if path and os.path.exists(path):
        try:
            time.sleep(float(open(path).read() or 0))
        except (OSError, ValueError):
            pass
