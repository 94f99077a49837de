"""A char-level data set for nanoGPT without a download: ~1 MB of Python's own standard-library source."""

import os
import pickle
import sys
import sysconfig
from pathlib import Path

import numpy as np

out = Path(sys.argv[1]) / "data" / "shakespeare_char"
out.mkdir(parents=True, exist_ok=True)
text = ""
for path in sorted(Path(sysconfig.get_paths()["stdlib"]).glob("*.py")):
    text += path.read_text(errors="replace")
    if len(text) > 1_100_000:
        break
chars = sorted(set(text))
stoi = {c: i for i, c in enumerate(chars)}
ids = np.array([stoi[c] for c in text], dtype=np.uint16)
n = int(len(ids) * 0.9)
ids[:n].tofile(out / "train.bin")
ids[n:].tofile(out / "val.bin")
pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, open(out / "meta.pkl", "wb"))
print(f"{len(text):,} characters, vocab {len(chars)}")
