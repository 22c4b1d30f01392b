"""Plausible wrong answers for chapter 6 (airplanes versus birds).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
"""

WRONG_ANSWERS = [
    {
        "name": "cifar2_subset keeps the CIFAR-10 labels 0 and 2",
        "cells": {"cifar2_subset": '''
def cifar2_subset(images, labels):
    keep = (labels == 0) | (labels == 2)
    return images[keep], labels[keep]
'''},
        "feedback": "bird must become 1",
    },
    {
        "name": "cifar2_subset loops over the labels in Python",
        "cells": {"cifar2_subset": '''
def cifar2_subset(images, labels):
    index = [i for i, label in enumerate(labels) if label in (0, 2)]
    return images[index], (labels[index] == 2).long()
'''},
        "feedback": "loops over the images or labels in Python",
    },
    {
        "name": "Net uses ReLU instead of tanh",
        "cells": {"net": '''
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.act1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.act2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.act3 = nn.ReLU()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        out = self.pool1(self.act1(self.conv1(x)))
        out = self.pool2(self.act2(self.conv2(out)))
        out = self.act3(self.fc1(self.flatten(out)))
        return self.fc2(out)
'''},
        "feedback": "ReLU instead of tanh",
    },
    {
        "name": "NetFunctional pools with the average",
        "cells": {"net_functional": '''
class NetFunctional(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        out = F.avg_pool2d(torch.tanh(self.conv1(x)), 2)
        out = F.avg_pool2d(torch.tanh(self.conv2(out)), 2)
        out = torch.tanh(self.fc1(out.flatten(1)))
        return self.fc2(out)
'''},
        "feedback": "average pooling instead of max pooling",
    },
    {
        "name": "training_loop never zeroes the gradients",
        "cells": {"training_loop": '''
def training_loop(n_epochs, optimizer, model, loss_fn, train_loader):
    device = next(model.parameters()).device
    model.train()
    mean_losses = []
    for epoch in range(n_epochs):
        total = 0.0
        for imgs, labels in train_loader:
            imgs, labels = imgs.to(device), labels.to(device)
            loss = loss_fn(model(imgs), labels)
            loss.backward()
            optimizer.step()
            total += loss.item()
        mean_losses.append(total / len(train_loader))
    return mean_losses
'''},
        "feedback": "optimizer.zero_grad() is never called",
    },
    {
        "name": "training_loop never steps the optimizer",
        "cells": {"training_loop": '''
def training_loop(n_epochs, optimizer, model, loss_fn, train_loader):
    device = next(model.parameters()).device
    model.train()
    mean_losses = []
    for epoch in range(n_epochs):
        total = 0.0
        for imgs, labels in train_loader:
            imgs, labels = imgs.to(device), labels.to(device)
            loss = loss_fn(model(imgs), labels)
            optimizer.zero_grad()
            loss.backward()
            total += loss.item()
        mean_losses.append(total / len(train_loader))
    return mean_losses
'''},
        "feedback": "did not learn them",
    },
    {
        "name": "training_loop never sets training mode",
        "cells": {"training_loop": '''
def training_loop(n_epochs, optimizer, model, loss_fn, train_loader):
    device = next(model.parameters()).device
    mean_losses = []
    for epoch in range(n_epochs):
        total = 0.0
        for imgs, labels in train_loader:
            imgs, labels = imgs.to(device), labels.to(device)
            loss = loss_fn(model(imgs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        mean_losses.append(total / len(train_loader))
    return mean_losses
'''},
        "feedback": "call model.train() first",
    },
    {
        "name": "training_loop moves the images but not the labels",
        "cells": {"training_loop": '''
def training_loop(n_epochs, optimizer, model, loss_fn, train_loader):
    device = next(model.parameters()).device
    model.train()
    mean_losses = []
    for epoch in range(n_epochs):
        total = 0.0
        for imgs, labels in train_loader:
            imgs = imgs.to(device)
            loss = loss_fn(model(imgs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        mean_losses.append(total / len(train_loader))
    return mean_losses
'''},
        "feedback": "labels not moved to the device",
    },
    {
        "name": "training_loop reports the summed loss",
        "cells": {"training_loop": '''
def training_loop(n_epochs, optimizer, model, loss_fn, train_loader):
    device = next(model.parameters()).device
    model.train()
    sums = []
    for epoch in range(n_epochs):
        total = 0.0
        for imgs, labels in train_loader:
            imgs, labels = imgs.to(device), labels.to(device)
            loss = loss_fn(model(imgs), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
        sums.append(total)
    return sums
'''},
        "feedback": "divide by the number of batches",
    },
    {
        "name": "accuracy never switches to eval mode",
        "cells": {"accuracy": '''
def accuracy(model, loader):
    device = next(model.parameters()).device
    correct, total = 0, 0
    with torch.no_grad():
        for imgs, labels in loader:
            imgs, labels = imgs.to(device), labels.to(device)
            correct += int((model(imgs).argmax(dim=1) == labels).sum())
            total += labels.shape[0]
    return correct / total
'''},
        "feedback": "call model.eval()",
    },
    {
        "name": "accuracy averages the batch accuracies",
        "cells": {"accuracy": '''
def accuracy(model, loader):
    device = next(model.parameters()).device
    model.eval()
    accs = []
    with torch.no_grad():
        for imgs, labels in loader:
            imgs, labels = imgs.to(device), labels.to(device)
            accs.append((model(imgs).argmax(dim=1) == labels).float().mean().item())
    return sum(accs) / len(accs)
'''},
        "feedback": "averaged the batch accuracies",
    },
    {
        "name": "load_weights returns what load_state_dict returns",
        "cells": {"save_load": '''
def save_weights(model, path):
    torch.save(model.state_dict(), path)


def load_weights(path):
    return Net().load_state_dict(torch.load(path, weights_only=True))
'''},
        "feedback": "not the model",
    },
]
