"""yunjey/pytorch-tutorial's ``convolutional_neural_network/main.py`` loop and print (``Epoch [1/5], Step [100/600],
Loss: 0.2345``), on random 28x28 images instead of MNIST (no torchvision, no download), CPU only, with the corpus's
stall hook in the data set. ``python tutorial_convnet.py EPOCHS [TRAIN_SAMPLES] [LOG_EVERY]`` (the tutorial logs
every 100 steps of 600; the default here, 10 of 200, keeps the lines as frequent in time on a CPU)."""

import sys

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from _images import RandomImages


class ConvNet(nn.Module):
    def __init__(self, num_classes=10):
        super(ConvNet, self).__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 16, kernel_size=5, stride=1, padding=2), nn.BatchNorm2d(16),
                                    nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.layer2 = nn.Sequential(nn.Conv2d(16, 32, kernel_size=5, stride=1, padding=2), nn.BatchNorm2d(32),
                                    nn.ReLU(), nn.MaxPool2d(kernel_size=2, stride=2))
        self.fc = nn.Linear(7 * 7 * 32, num_classes)

    def forward(self, x):
        out = self.layer2(self.layer1(x))
        return self.fc(out.reshape(out.size(0), -1))


num_epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
train_n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
log_every = int(sys.argv[3]) if len(sys.argv) > 3 else 10
torch.manual_seed(0)
train_loader = DataLoader(RandomImages(train_n, (1, 28, 28), seed=0, stall_every=100), batch_size=100, shuffle=True)
test_loader = DataLoader(RandomImages(10000, (1, 28, 28), seed=1, stall_every=100), batch_size=100, shuffle=False)
model = ConvNet(10)
criterion = nn.CrossEntropyLoss()
optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
total_step = len(train_loader)
for epoch in range(num_epochs):
    for i, (images, labels) in enumerate(train_loader):
        loss = criterion(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if (i + 1) % log_every == 0:
            print('Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}'.format(epoch + 1, num_epochs, i + 1, total_step,
                                                                    loss.item()))
model.eval()
with torch.no_grad():
    correct = 0
    total = 0
    for images, labels in test_loader:
        _, predicted = torch.max(model(images).data, 1)
        total += labels.size(0)
        correct += (predicted == labels).sum().item()
    print('Test Accuracy of the model on the 10000 test images: {} %'.format(100 * correct / total))
