"""A plain PyTorch loop with a tqdm bar over all steps, CPU only, with a sequence-length curriculum: the
sequence doubles at fixed fractions of the run, so the step time grows by design.
``python torch_tqdm.py STEPS [GROW_AT ...]`` (fractions, default 0.5)."""

import sys

import torch
from tqdm import tqdm

from _stall import maybe_stall

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
grow = [float(a) for a in sys.argv[2:]] or [0.5]
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True)
model = torch.nn.TransformerEncoder(layer, num_layers=2)
head = torch.nn.Linear(128, 1)
opt = torch.optim.AdamW([*model.parameters(), *head.parameters()], 1e-3)
seq = 32
for step in tqdm(range(steps), desc="train"):
    if grow and step >= grow[0] * steps:
        grow.pop(0)
        seq *= 2
    maybe_stall()
    x = torch.randn(16, seq, 128)
    loss = head(model(x)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
