"""A plain PyTorch loop that logs JSON lines, CPU only: ``print(json.dumps(metrics), flush=True)``, the shape of
hand-written loops that keep their metrics machine-readable. Its config first (``max_steps``, ``eval_interval``),
then every 20 steps ``{"step", "loss", "lr", "step_time"}`` (the interval's mean seconds per step), and every
``eval_interval`` steps a validation, ``{"step", "val_loss", "eval_time"}``.
``python torch_json.py STEPS [EVAL_INTERVAL]``."""

import json
import sys
import time

import torch
from _stall import maybe_stall

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 12000
eval_interval = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
log_every = 20
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True)
model = torch.nn.TransformerEncoder(layer, num_layers=2)
head = torch.nn.Linear(128, 1)
opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], 1e-3)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
print(json.dumps({"max_steps": steps, "batch_size": 16, "seq_len": 32, "lr": 1e-3, "eval_interval": eval_interval}),
      flush=True)
t0 = time.time()
for step in range(1, steps + 1):
    maybe_stall()
    x = torch.randn(16, 32, 128)
    loss = head(model(x)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()
    if step % log_every == 0:
        now = time.time()
        print(json.dumps({"step": step, "loss": round(loss.item(), 4), "lr": sched.get_last_lr()[0],
                          "step_time": round((now - t0) / log_every, 4)}), flush=True)
        t0 = now
    if step % eval_interval == 0:
        start = time.time()
        with torch.no_grad():
            val = sum(head(model(torch.randn(64, 32, 128))).pow(2).mean().item() for _ in range(40)) / 40
        print(json.dumps({"step": step, "val_loss": round(val, 4), "eval_time": round(time.time() - start, 3)}),
              flush=True)
        t0 = time.time()
