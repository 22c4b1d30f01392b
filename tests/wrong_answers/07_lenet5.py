"""Plausible wrong answers for chapter 7 (LeNet-5 on MNIST and CIFAR-10).

Each replaces answer cells (by grade_id) in the source notebook; the round
trip expects fewer than full marks and the feedback to contain "feedback".
"""

LENET = '''
class LeNet5(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding={PAD})
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        x = {POOL}(F.relu(self.conv1(x)), 2)
        x = {POOL}(F.relu(self.conv2(x)), 2)
        x = {FLATTEN}
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)
'''


def lenet(pad="(32 - image_size) // 2", pool="F.max_pool2d", flatten="torch.flatten(x, 1)"):
    return LENET.replace("{PAD}", pad).replace("{POOL}", pool).replace("{FLATTEN}", flatten)


FIT = '''
def fit(model, loader, optimizer, epochs, device):
    model.to(device)
    history = {"loss": [], "acc": []}
    for epoch in range(epochs):
        model.train()
        losses, accs = [], []
        total, correct, seen = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            optimizer.zero_grad()
            logits = model(x)
            loss = F.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            accs.append((logits.argmax(1) == y).float().mean().item())
            total += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        history["loss"].append({LOSS})
        history["acc"].append({ACC})
        print("finished")
    return history
'''


def fit(loss="total / seen", acc="correct / seen"):
    return FIT.replace("{LOSS}", loss).replace("{ACC}", acc)


WRONG_ANSWERS = [
    {
        "name": "LeNet5 with average pooling",
        "cells": {"LeNet5": lenet(pool="F.avg_pool2d")},
        "feedback": "average pooling",
    },
    {
        "name": "LeNet5 never pads conv1 (MNIST flatten is 256, not 400)",
        "cells": {"LeNet5": lenet(pad="0")},
        "feedback": "RuntimeError",
    },
    {
        "name": "LeNet5 flattens with squeeze (breaks at batch size 1)",
        "cells": {"LeNet5": lenet(flatten="x.reshape(x.shape[0], -1).squeeze()")},
        "feedback": "missing dimension of size 1",
    },
    {
        "name": "layer_parameter_counts forgets the biases",
        "cells": {"layer_parameter_counts": '''
def layer_parameter_counts(model):
    counts = {}
    for name, child in model.named_children():
        if hasattr(child, "weight") and child.weight is not None:
            counts[name] = child.weight.numel()
    return counts
'''},
        "feedback": "the counts of layer_parameter_counts",
    },
    {
        "name": "layer_parameter_counts lists layers without parameters",
        "cells": {"layer_parameter_counts": '''
def layer_parameter_counts(model):
    return {name: sum(p.numel() for p in child.parameters()) for name, child in model.named_children()}
'''},
        "feedback": "only those with parameters",
    },
    {
        "name": "fit averages the batch means (last batch smaller)",
        "cells": {"fit": fit(loss="sum(losses) / len(losses)", acc="sum(accs) / len(accs)")},
        "feedback": "the mean of the batch means",
    },
    {
        "name": "fit reports accuracy in percent",
        "cells": {"fit": fit(acc="100 * correct / seen")},
        "feedback": "percentage",
    },
    {
        "name": "confusion matrix transposed (rows are predictions)",
        "cells": {"confusion": '''
def confusion_matrix(preds, labels, num_classes):
    cm = torch.zeros(num_classes, num_classes, dtype=torch.long)
    for p, t in zip(preds.tolist(), labels.tolist()):
        cm[p, t] += 1
    return cm


def per_class_accuracy(preds, labels, num_classes):
    cm = confusion_matrix(preds, labels, num_classes).double()
    return (cm.diagonal() / cm.sum(0)).float()
'''},
        "feedback": "rows and columns are swapped",
    },
    {
        "name": "per-class accuracy divides by the predicted counts",
        "cells": {"confusion": '''
def confusion_matrix(preds, labels, num_classes):
    pairs = labels.long() * num_classes + preds.long()
    return torch.bincount(pairs, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def per_class_accuracy(preds, labels, num_classes):
    cm = confusion_matrix(preds, labels, num_classes).double()
    return (cm.diagonal() / cm.sum(0)).float()
'''},
        "feedback": "precision",
    },
    {
        "name": "mnist_cnn always uses max pooling",
        "cells": {"mnist_cnn": '''
def mnist_cnn(padding="same", pool="max"):
    p = 2 if padding == "same" else 0
    side = 7 if padding == "same" else 4
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=p), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=p), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(32 * side * side, 10))
'''},
        "feedback": "the other kind of pooling",
    },
    {
        "name": "mnist_cnn keeps the 7x7 linear layer for valid padding",
        "cells": {"mnist_cnn": '''
def mnist_cnn(padding="same", pool="max"):
    p = 2 if padding == "same" else 0
    Pool = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=p), nn.ReLU(), Pool(2),
        nn.Conv2d(16, 32, 5, padding=p), nn.ReLU(), Pool(2),
        nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
'''},
        "feedback": "the parameter shapes of mnist_cnn('valid', 'max')",
    },
]
