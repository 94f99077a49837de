"""Lightning with the TQDM bar and validation after every epoch, CPU only. The first epoch reads every sample
"from disk" (a small sleep per batch), later epochs from a cache: a speed-up after the first epoch, as a real
data set with a page cache or a cached transform gives (a resumed process starts cold again).
``python pl_train.py EPOCHS [--resume] [--val-every F]``: ``--resume`` continues from the newest checkpoint (saved at
each epoch's end) in ``$PL_OUT`` (default /tmp/pl_out); ``--val-every 0.25`` validates four times per epoch
(Lightning's ``val_check_interval``)."""

import glob
import os
import sys
import time

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from torch.utils.data import DataLoader, Dataset

from _stall import maybe_stall


class Cached(Dataset):
    def __init__(self, n, cold_seconds):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 256, generator=g)
        self.y = torch.randint(0, 10, (n,), generator=g)
        self.seen = set()
        self.cold = cold_seconds

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i not in self.seen:
            self.seen.add(i)
            time.sleep(self.cold)
        if i % 64 == 0:
            maybe_stall()
        return self.x[i], self.y[i]


class Net(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.m = torch.nn.Sequential(torch.nn.Linear(256, 1024), torch.nn.ReLU(), torch.nn.Linear(1024, 1024),
                                     torch.nn.ReLU(), torch.nn.Linear(1024, 10))

    def training_step(self, b, i):
        x, y = b
        loss = torch.nn.functional.cross_entropy(self.m(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, b, i):
        x, y = b
        self.log("val_loss", torch.nn.functional.cross_entropy(self.m(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), 1e-3)


epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
train = DataLoader(Cached(128000, 0.0004), batch_size=64)
val = DataLoader(Cached(16000, 0.0), batch_size=256)
root = os.environ.get("PL_OUT", "/tmp/pl_out")
args = sys.argv[2:]
val_every = float(args[args.index("--val-every") + 1]) if "--val-every" in args else 1.0
resume = max(glob.glob(f"{root}/checkpoints/*.ckpt"), key=os.path.getmtime) if "--resume" in args else None
L.Trainer(max_epochs=epochs, val_check_interval=val_every, accelerator="cpu", logger=False, enable_checkpointing=True,
          default_root_dir=root,
          callbacks=[TQDMProgressBar(refresh_rate=1)]).fit(Net(), train, val, ckpt_path=resume)
