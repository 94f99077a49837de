"""The small model of the hand-written loops (``torch_json.py``, ``torch_logging.py``): a 2-layer transformer encoder
(d 128) on random batches of 16 × 32 tokens, AdamW with a cosine schedule over ``steps``, seeded."""

import torch


class Encoder:
    def __init__(self, steps: int) -> None:
        torch.manual_seed(0)
        layer = torch.nn.TransformerEncoderLayer(d_model=128, nhead=4, dim_feedforward=256, batch_first=True)
        self.model = torch.nn.TransformerEncoder(layer, num_layers=2)
        self.head = torch.nn.Linear(128, 1)
        self.opt = torch.optim.AdamW([*self.model.parameters(), *self.head.parameters()], 1e-3)
        self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(self.opt, steps)

    def step(self, batch: int = 16) -> torch.Tensor:
        """One optimiser step; its loss (a tensor: ``.item()`` only where it is printed, as the loops did)."""
        loss = self.head(self.model(torch.randn(batch, 32, 128))).pow(2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.sched.step()
        return loss

    def lr(self) -> float:
        return self.sched.get_last_lr()[0]

    def validate(self, batches: int) -> float:
        """Mean loss over ``batches`` random batches of 64, without gradients."""
        with torch.no_grad():
            return sum(self.head(self.model(torch.randn(64, 32, 128))).pow(2).mean().item() for _ in range(batches)) / batches
