"""A tiny mmengine Runner on CPU: real ``LoggerHook`` output, its text log and its ``vis_data/<timestamp>.json``.

    python benchmarks/corpus/mm_train.py iter|epoch WORK_DIR   # needs torch and mmengine (0.10.7 here)

``iter``: 300 iterations, validation and checkpoint every 100; ``epoch``: 3 epochs of 80, validation each epoch.
``tests/data/real_mmengine_{iter,epoch}_vis.log`` are the JSON files of one run of each, ``real_mmengine_iter_text.log``
the ``iter`` run's text log.
"""
import sys

import torch
import torch.nn as nn
from mmengine.evaluator import BaseMetric
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset


class Toy(Dataset):
    def __len__(self): return 640
    def __getitem__(self, i):
        g = torch.Generator().manual_seed(i)
        x = torch.randn(32, generator=g)
        return dict(x=x, y=(x.sum() > 0).long())

class Net(BaseModel):
    def __init__(self):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Linear(256, 2))
    def forward(self, x, y, mode="tensor"):
        out = self.f(x)
        if mode == "loss":
            return dict(loss=nn.functional.cross_entropy(out, y))
        return list(zip(out.argmax(1), y))

class Acc(BaseMetric):
    def process(self, batch, samples):
        self.results += [int(a == b) for a, b in samples]
    def compute_metrics(self, results):
        return dict(accuracy=sum(results) / len(results))

by_epoch = sys.argv[1] == "epoch"
loop = dict(by_epoch=True, max_epochs=3, val_interval=1) if by_epoch else dict(by_epoch=False, max_iters=300, val_interval=100)
runner = Runner(
    model=Net(), work_dir=sys.argv[2],
    train_dataloader=dict(dataset=Toy(), sampler=dict(type="DefaultSampler", shuffle=True), batch_size=8, num_workers=0, collate_fn=dict(type="default_collate")),
    val_dataloader=dict(dataset=Toy(), sampler=dict(type="DefaultSampler", shuffle=False), batch_size=32, num_workers=0, collate_fn=dict(type="default_collate")),
    val_evaluator=dict(type=Acc), val_cfg=dict(),
    train_cfg=loop, optim_wrapper=dict(optimizer=dict(type="SGD", lr=0.01)),
    default_hooks=dict(logger=dict(type="LoggerHook", interval=10, log_metric_by_epoch=by_epoch),
                       checkpoint=dict(type="CheckpointHook", interval=1 if by_epoch else 100, by_epoch=by_epoch)),
    visualizer=dict(type="Visualizer", vis_backends=[dict(type="LocalVisBackend")]),
)
runner.train()
