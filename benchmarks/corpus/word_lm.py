"""pytorch/examples ``word_language_model/main.py``'s LSTM training loop and prints (``| epoch   1 |   200/ 2983
batches | lr 20.00 | ms/batch 45.30 | loss  5.20 | ppl   181.27``, an ``| end of epoch`` line with the validation
loss after each epoch, the model saved when it improves), on a random token stream instead of Wikitext-2 (no
download), CPU only, with the corpus's stall hook before each batch. ``python word_lm.py EPOCHS [TOKENS]
[LOG_INTERVAL]``."""

import math
import sys
import time

import torch
import torch.nn as nn

from _stall import maybe_stall


class RNNModel(nn.Module):
    def __init__(self, ntoken, ninp, nhid, nlayers, dropout=0.2):
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nlayers, self.nhid = nlayers, nhid

    def forward(self, input, hidden):
        output, hidden = self.rnn(self.drop(self.encoder(input)), hidden)
        return self.decoder(self.drop(output)).view(-1, self.decoder.out_features), hidden

    def init_hidden(self, bsz):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


def batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def get_batch(source, i, bptt=35):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)


def repackage_hidden(h):
    return tuple(v.detach() for v in h)


epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 6
tokens = int(sys.argv[2]) if len(sys.argv) > 2 else 200000
log_interval = int(sys.argv[3]) if len(sys.argv) > 3 else 20
torch.manual_seed(1111)
ntokens, bptt, batch_size, eval_batch_size, clip = 2000, 35, 20, 10, 0.25
g = torch.Generator().manual_seed(0)
train_data = batchify(torch.randint(0, ntokens, (tokens,), generator=g), batch_size)
val_data = batchify(torch.randint(0, ntokens, (tokens // 8,), generator=g), eval_batch_size)
model = RNNModel(ntokens, 200, 200, 2)
criterion = nn.NLLLoss()
lr = 20


def evaluate(data_source):
    model.eval()
    total_loss = 0.
    hidden = model.init_hidden(eval_batch_size)
    with torch.no_grad():
        for i in range(0, data_source.size(0) - 1, bptt):
            data, targets = get_batch(data_source, i)
            output, hidden = model(data, hidden)
            hidden = repackage_hidden(hidden)
            total_loss += len(data) * criterion(torch.log_softmax(output, -1), targets).item()
    return total_loss / (len(data_source) - 1)


def train():
    model.train()
    total_loss = 0.
    start_time = time.time()
    hidden = model.init_hidden(batch_size)
    for batch, i in enumerate(range(0, train_data.size(0) - 1, bptt)):
        maybe_stall()
        data, targets = get_batch(train_data, i)
        model.zero_grad()
        hidden = repackage_hidden(hidden)
        output, hidden = model(data, hidden)
        loss = criterion(torch.log_softmax(output, -1), targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        total_loss += loss.item()
        if batch % log_interval == 0 and batch > 0:
            cur_loss = total_loss / log_interval
            elapsed = time.time() - start_time
            print('| epoch {:3d} | {:5d}/{:5d} batches | lr {:02.2f} | ms/batch {:5.2f} | '
                  'loss {:5.2f} | ppl {:8.2f}'.format(epoch, batch, len(train_data) // bptt, lr,
                                                       elapsed * 1000 / log_interval, cur_loss, math.exp(cur_loss)))
            total_loss = 0
            start_time = time.time()


best_val_loss = None
for epoch in range(1, epochs + 1):
    epoch_start_time = time.time()
    train()
    val_loss = evaluate(val_data)
    print('-' * 89)
    print('| end of epoch {:3d} | time: {:5.2f}s | valid loss {:5.2f} | '
          'valid ppl {:8.2f}'.format(epoch, (time.time() - epoch_start_time), val_loss, math.exp(val_loss)))
    print('-' * 89)
    if not best_val_loss or val_loss < best_val_loss:
        torch.save(model.state_dict(), "/tmp/word_lm.pt")
        best_val_loss = val_loss
    else:
        lr /= 4.0
