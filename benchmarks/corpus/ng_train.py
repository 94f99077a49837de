"""nanoGPT's own ``train.py`` (from a checkout named by $NANOGPT_DIR), with a stall hook in ``get_batch``.

Runs in a work folder holding ``data/shakespeare_char`` (made by ``ng_data.py``) and ``configurator.py``;
arguments are nanoGPT's (``--compile=True --max_iters=...``). Only change to nanoGPT: ``get_batch`` first calls
``maybe_stall()`` (the recorder's data-loader stall).
"""

import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
repo = os.environ["NANOGPT_DIR"]
sys.path[:0] = [repo, here]
source = open(os.path.join(repo, "train.py")).read()
hooked = source.replace("def get_batch(split):\n", "def get_batch(split):\n    maybe_stall()\n", 1)
assert hooked != source, "nanoGPT's get_batch changed: update the hook"
from _stall import maybe_stall  # noqa: E402

sys.argv = ["train.py", *sys.argv[1:]]
exec(compile("from _stall import maybe_stall\n" + hooked, "train.py", "exec"), {"__name__": "__main__"})
