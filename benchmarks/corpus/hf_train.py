"""Tiny GPT-2 with the Hugging Face Trainer on random tokens, CPU only (the shared ``hf_train.py`` plus a stall
hook in the data set). ``python hf_train.py MAX_STEPS [--resume] [--per-epoch]``: ``--resume`` continues from the
latest checkpoint in the output folder (``$HF_OUT``, default /tmp/hf_out); ``--per-epoch`` evaluates and saves once
per epoch (2,500 steps) instead of every 500 and 1,000 steps; ``--epochs`` reads MAX_STEPS as a number of epochs
(``num_train_epochs``) instead."""

import os
import sys

import torch
from torch.utils.data import Dataset
from transformers import GPT2Config, GPT2LMHeadModel, Trainer, TrainingArguments

from _stall import maybe_stall


class RandomTokens(Dataset):
    def __init__(self, n, seq=64, vocab=512):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randint(0, vocab, (n, seq), generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        if i % 16 == 0:
            maybe_stall()
        return {"input_ids": self.x[i], "labels": self.x[i]}


steps = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
model = GPT2LMHeadModel(GPT2Config(vocab_size=512, n_positions=64, n_embd=64, n_layer=2, n_head=2))
schedule = ({"eval_strategy": "epoch", "save_strategy": "epoch"} if "--per-epoch" in sys.argv[2:]
            else {"eval_strategy": "steps", "eval_steps": 500, "save_steps": 1000})
length = {"num_train_epochs": steps} if "--epochs" in sys.argv[2:] else {"max_steps": steps}
args = TrainingArguments(output_dir=os.environ.get("HF_OUT", "/tmp/hf_out"), **length,
                         per_device_train_batch_size=16, logging_steps=50, per_device_eval_batch_size=32,
                         report_to=[], use_cpu=True, dataloader_num_workers=0, **schedule)
Trainer(model=model, args=args, train_dataset=RandomTokens(40000), eval_dataset=RandomTokens(3000)).train(
    resume_from_checkpoint="--resume" in sys.argv[2:] or None)
