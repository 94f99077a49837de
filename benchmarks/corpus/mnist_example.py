"""pytorch/examples ``mnist/main.py`` as it is (its ``Net``, ``train``, ``test`` and their prints), on random
28x28 images instead of MNIST (no torchvision, no download), CPU only; with the corpus's stall hook in the data set.
``python mnist_example.py EPOCHS [TRAIN_SAMPLES] [TEST_SAMPLES]``. Like the example it prints every 10th batch
(``Train Epoch: 1 [640/60000 (1%)]  Loss: …``) and a ``Test set:`` summary after each epoch; the number of epochs is
not printed."""

import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader

from _images import RandomImages


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)


def train(model, train_loader, optimizer, epoch, log_interval=10):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        optimizer.zero_grad()
        loss = F.nll_loss(model(data), target)
        loss.backward()
        optimizer.step()
        if batch_idx % log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))


def test(model, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))


epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
train_n = int(sys.argv[2]) if len(sys.argv) > 2 else 60000
test_n = int(sys.argv[3]) if len(sys.argv) > 3 else 10000
torch.manual_seed(1)
model = Net()
train_loader = DataLoader(RandomImages(train_n, (1, 28, 28), seed=0), batch_size=64, shuffle=True)
test_loader = DataLoader(RandomImages(test_n, (1, 28, 28), seed=1), batch_size=1000)
optimizer = optim.Adadelta(model.parameters(), lr=1.0)
scheduler = StepLR(optimizer, step_size=1, gamma=0.7)
for epoch in range(1, epochs + 1):
    train(model, train_loader, optimizer, epoch)
    test(model, test_loader)
    scheduler.step()
