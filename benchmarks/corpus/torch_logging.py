"""A plain PyTorch loop that reports through ``logging``, CPU only: the shape of Hugging Face's ``run_*_no_trainer.py``
examples and of many research repositories. ``logging.basicConfig`` with the examples' own format and date format
(``%(asctime)s - %(levelname)s - %(name)s - %(message)s``, ``%m/%d/%Y %H:%M:%S``: whole seconds), their
``***** Running training *****`` header with ``Total optimization steps``, then every 25 steps
``epoch 1 | step 25/8000 | loss 0.0211 | lr 1.00e-03`` (no step time printed) and after each epoch an evaluation
logged as ``epoch 1: eval_loss 0.0012``. ``python torch_logging.py EPOCHS STEPS_PER_EPOCH``."""

import logging
import sys

from _encoder import Encoder
from _stall import maybe_stall

logging.basicConfig(format="%(asctime)s - %(levelname)s - %(name)s - %(message)s", datefmt="%m/%d/%Y %H:%M:%S",
                    level=logging.INFO, stream=sys.stdout)
logger = logging.getLogger(__name__)
epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 4
per_epoch = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
total = epochs * per_epoch
batch = 16
net = Encoder(total)
logger.info("***** Running training *****")
logger.info(f"  Num examples = {per_epoch * batch}")
logger.info(f"  Num Epochs = {epochs}")
logger.info(f"  Instantaneous batch size per device = {batch}")
logger.info(f"  Total optimization steps = {total}")
step = 0
for epoch in range(1, epochs + 1):
    net.model.train()
    for _ in range(per_epoch):
        maybe_stall()
        loss = net.step(batch)
        step += 1
        if step % 25 == 0:
            logger.info(f"epoch {epoch} | step {step}/{total} | loss {loss.item():.4f} | lr {net.lr():.2e}")
    net.model.eval()
    val = net.validate(60)
    logger.info(f"epoch {epoch}: eval_loss {val:.4f}")
