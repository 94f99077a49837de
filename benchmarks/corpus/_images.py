"""Random labelled images for the image trainers of the corpus (no download), with the recorder's stall hook."""

import torch
from torch.utils.data import Dataset

from _stall import maybe_stall


class RandomImages(Dataset):
    """``n`` images of ``shape`` with labels 0-9; every ``stall_every``-th sample (once per batch) may stall."""

    def __init__(self, n, shape, *, seed=0, stall_every=64):
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, *shape, generator=g)
        self.y = torch.randint(0, 10, (n,), generator=g)
        self.stall_every = stall_every

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i % self.stall_every == 0:
            maybe_stall()
        return self.x[i], self.y[i]
