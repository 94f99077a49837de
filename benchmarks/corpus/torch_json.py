"""A plain PyTorch loop that logs JSON lines, CPU only: ``print(json.dumps(metrics), flush=True)``, the shape of
hand-written loops that keep their metrics machine-readable. Its config first (``max_steps``, ``eval_interval``),
then every 20 steps ``{"step", "loss", "lr", "step_time"}`` (the interval's mean seconds per step), and every
``eval_interval`` steps a validation, ``{"step", "val_loss", "eval_time"}``.
``python torch_json.py STEPS [EVAL_INTERVAL]``."""

import json
import sys
import time

from _encoder import Encoder
from _stall import maybe_stall

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 12000
eval_interval = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
log_every = 20
net = Encoder(steps)
print(json.dumps({"max_steps": steps, "batch_size": 16, "seq_len": 32, "lr": 1e-3, "eval_interval": eval_interval}),
      flush=True)
t0 = time.time()
for step in range(1, steps + 1):
    maybe_stall()
    loss = net.step()
    if step % log_every == 0:
        now = time.time()
        print(json.dumps({"step": step, "loss": round(loss.item(), 4), "lr": net.lr(),
                          "step_time": round((now - t0) / log_every, 4)}), flush=True)
        t0 = now
    if step % eval_interval == 0:
        start = time.time()
        val = net.validate(40)
        print(json.dumps({"step": step, "val_loss": round(val, 4), "eval_time": round(time.time() - start, 3)}),
              flush=True)
        t0 = time.time()
