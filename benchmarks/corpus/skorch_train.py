"""A skorch ``NeuralNetClassifier`` on CPU: its real ``PrintLog`` table (one row per epoch), with a checkpoint column.

    python benchmarks/corpus/skorch_train.py EPOCHS CHECKPOINT_DIR   # needs torch, skorch (1.x), numpy

``tests/data/real_skorch.log`` is its stdout with ``EPOCHS`` 12.
"""
import sys

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Checkpoint, LRScheduler

epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
rng = np.random.default_rng(0)
X = rng.normal(size=(20000, 64)).astype(np.float32)
y = (X[:, :8].sum(axis=1) + rng.normal(size=20000) > 0).astype(np.int64)
module = torch.nn.Sequential(torch.nn.Linear(64, 512), torch.nn.ReLU(), torch.nn.Linear(512, 2))
net = NeuralNetClassifier(module, criterion=torch.nn.CrossEntropyLoss, max_epochs=epochs, lr=0.05, batch_size=64,
                          callbacks=[Checkpoint(dirname=sys.argv[2] if len(sys.argv) > 2 else "skorch-cp"),
                                     LRScheduler(policy="StepLR", step_size=5)])
net.fit(X, y)
