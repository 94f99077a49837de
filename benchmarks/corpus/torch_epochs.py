"""The most common hand-written PyTorch loop: a tqdm bar over epochs around a bar over the data loader's batches,
a validation pass after each epoch, CPU only. ``python torch_epochs.py EPOCHS BATCHES [--plain | --print |
--lines]``: ``--plain`` without descriptions and with the batch bars left on screen (``for epoch in trange(E): for
x in tqdm(loader)``); ``--print`` with no bar over epochs but ``print(f"Epoch {e + 1}/{E}")`` before each pass of
``tqdm(loader)``; ``--lines`` with no bar at all: that line, then ``Batch 50/3000, Loss: 0.0123`` every 50 batches;
else ``trange(E, desc="Epoch")`` around ``tqdm(loader, desc="Iteration", leave=False)`` and a ``Validating`` bar."""

import sys

import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm, trange

from _stall import maybe_stall


class Noise(Dataset):
    def __init__(self, n):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 32, 64, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i % 16 == 0:
            maybe_stall()
        return self.x[i]


epochs, batches = int(sys.argv[1]), int(sys.argv[2])
plain = "--plain" in sys.argv[3:]
lines = "--lines" in sys.argv[3:]
printed = "--print" in sys.argv[3:] or lines
torch.manual_seed(0)
layer = torch.nn.TransformerEncoderLayer(d_model=64, nhead=4, dim_feedforward=128, batch_first=True)
model = torch.nn.TransformerEncoder(layer, num_layers=2)
opt = torch.optim.AdamW(model.parameters(), 1e-3)
train = DataLoader(Noise(16 * batches), batch_size=16, shuffle=True)
val = DataLoader(Noise(16 * max(1, batches // 10)), batch_size=16)
for epoch in (range(epochs) if printed else trange(epochs) if plain else trange(epochs, desc="Epoch")):
    if printed:
        print(f"Epoch {epoch + 1}/{epochs}", flush=True)
    model.train()
    for i, x in enumerate(train if lines else tqdm(train) if plain or printed else
                          tqdm(train, desc="Iteration", leave=False)):
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if lines and (i + 1) % 50 == 0:
            print(f"Batch {i + 1}/{len(train)}, Loss: {loss.item():.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        total = sum(model(x).pow(2).mean().item()
                    for x in (val if plain or printed else tqdm(val, desc="Validating", leave=False)))
    tqdm.write(f"epoch {epoch}: val_loss {total / len(val):.4f}")
