"""A plain PyTorch loop with a tqdm bar that raises at step 400 of 1000, as a CUDA out-of-memory error would: a real
crash's log (``python -u crash_loop.py 2>&1 | python record.py …``: ``tests/data/real_tqdm_crash.{log,tslog}``)."""

import time
import torch
from tqdm import tqdm
model = torch.nn.Linear(64, 64)
opt = torch.optim.SGD(model.parameters(), 0.01)
for step in tqdm(range(1000), desc="train"):
    loss = model(torch.randn(32, 64)).pow(2).mean()
    opt.zero_grad(); loss.backward(); opt.step()
    time.sleep(0.005)
    if step == 400:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (simulated at step 400)")
