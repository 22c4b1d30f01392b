"""Training for the chapters: devices, run sizes, data loaders, the training loop.

    from helpers import models, train
    run = train.run_settings("lenet5_cifar10")      # epochs, batch size, lr ... for this profile
    train_loader, test_loader = train.cifar10_loaders(run)
    model = models.LeNet5()
    history = train.train(model, run, train_loader, test_loader)
    history.val_acc[-1], train.evaluate(model, test_loader)

One switch decides how long things run: the environment variable
COURSE_PROFILE, read by `profile()` only.

    fast   seconds per training run, on data subsets (CI, autograding, Validate);
           the default
    full   the real thing: whole data sets, the recipes that reach the
           accuracies `python -m course bench --train` reports

`run_settings(name)` looks a recipe up in RECIPES for the current profile, so
a notebook writes the same code for both and never branches on the profile.

Everything here works on any device: `fit` and `evaluate` move the model
and every tensor of a batch (nested tuples, lists and dicts too) to it.
"""
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace

__all__ = [
    "PROFILE_ENV", "PROFILES", "RECIPES", "RunSettings", "History", "TensorLoader",
    "get_device", "to_device", "seed_everything", "profile", "run_settings",
    "random_shift", "random_flip", "cifar2_loaders", "mnist_loaders", "cifar10_loaders",
    "make_optimizer", "train_epoch", "fit", "train", "evaluate", "predict",
    "per_class_accuracy", "confusion_matrix",
]

PROFILE_ENV = "COURSE_PROFILE"
PROFILES = ("fast", "full")
DEFAULT_PROFILE = "fast"


# --------------------------------------------------------------------------
# Devices and seeds
# --------------------------------------------------------------------------

def get_device():
    """The best device here: CUDA if available, else Apple's MPS, else the CPU.

    >>> get_device()                                   # doctest: +SKIP
    device(type='cpu')
    """
    _refuse_if_forbidden("get_device")
    return _best_device()


def _best_device():
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def to_device(obj, device, non_blocking=False):
    """Move every tensor in obj to device; obj may nest tuples, lists and dicts.

    Containers keep their type (a namedtuple stays a namedtuple); anything that
    is not a tensor (numbers, strings, None) comes back unchanged.

    >>> import torch
    >>> batch = {"x": torch.zeros(2, 3), "meta": [torch.ones(1), "id"]}
    >>> to_device(batch, "cpu")["meta"][1]
    'id'
    """
    _refuse_if_forbidden("to_device")
    return _to_device(obj, device, non_blocking)


def _to_device(obj, device, non_blocking=False):
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=non_blocking)
    if isinstance(obj, dict):
        moved = {key: _to_device(value, device, non_blocking) for key, value in obj.items()}
        return moved if type(obj) is dict else _same_type(obj, moved)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(_to_device(value, device, non_blocking) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(value, device, non_blocking) for value in obj)
    return obj


def _refuse_if_forbidden(name):
    """Chapters 7 and 8 rebuild fit, train, confusion_matrix, per_class_accuracy,
    get_device, to_device and train_epoch: inside check.forbid(name) the reference
    refuses to run (by name only, not for "*")."""
    from helpers import _guard

    if name in _guard._forbidden_kernels.get() and not _guard._inside_reference.get():
        raise _guard.ForbiddenCall(f"your answer called helpers.train.{name}, the course's reference "
                                   f"solution. Write your own version: building it is the exercise.")


def _same_type(original, moved):
    try:
        return type(original)(moved)
    except TypeError:  # a dict subclass with another constructor (defaultdict, ...)
        return moved


def seed_everything(seed=0):
    """Seed Python's, NumPy's and torch's random generators (all devices) with seed.

    Two CPU runs of the same code after the same seed_everything(seed) give
    identical weights, batches, augmentations and results. Returns seed.
    """
    import numpy as np
    import torch

    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # seeds CUDA and MPS too
    return seed


# --------------------------------------------------------------------------
# One switch for run size: COURSE_PROFILE and the recipes
# --------------------------------------------------------------------------

def profile():
    """The run size, "fast" or "full": the environment variable COURSE_PROFILE (default "fast").

    Read on every call, so setting os.environ["COURSE_PROFILE"] in a notebook
    takes effect for the next run_settings(). A bad value is a ValueError
    naming COURSE_PROFILE.
    """
    value = os.environ.get(PROFILE_ENV, "").strip().lower()
    if not value:
        return DEFAULT_PROFILE
    if value not in PROFILES:
        raise ValueError(f"the environment variable {PROFILE_ENV} must be one of "
                         f"{', '.join(PROFILES)} (or unset for {DEFAULT_PROFILE!r}); "
                         f"got {os.environ[PROFILE_ENV]!r}")
    return value


@dataclass(frozen=True)
class RunSettings:
    """How to train one model: data, optimiser, schedule, augmentation.

    epochs, batch_size: the training length and the batch size;
    train_size, test_size: how many training / test images (None: all);
    optimizer: "sgd", "adam" or "adamw"; lr: its learning rate (the peak
        rate with schedule="onecycle"); momentum (SGD), weight_decay;
    schedule: "constant" or "onecycle" (OneCycleLR, stepped every batch);
    label_smoothing: of the cross-entropy loss;
    normalize: scale pixels with the data set's mean and std (else to [0, 1]);
    shift: random shifts of up to this many pixels (zero padded) while training;
    flip: random horizontal flips while training;
    flip_test: evaluate on the mean of the softmax of the image and its mirror.
    """

    epochs: int
    batch_size: int
    lr: float
    optimizer: str = "adamw"
    train_size: object = None
    test_size: object = None
    momentum: float = 0.0
    weight_decay: float = 0.0
    schedule: str = "constant"
    label_smoothing: float = 0.0
    normalize: bool = True
    shift: int = 0
    flip: bool = False
    flip_test: bool = False
    eval_batch_size: int = 1000

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size"):
            _positive_int(getattr(self, name), name)
        for name in ("train_size", "test_size"):
            if getattr(self, name) is not None:
                _positive_int(getattr(self, name), name)
        if self.optimizer not in ("sgd", "adam", "adamw"):
            raise ValueError(f"optimizer must be 'sgd', 'adam' or 'adamw', got {self.optimizer!r}")
        if self.schedule not in ("constant", "onecycle"):
            raise ValueError(f"schedule must be 'constant' or 'onecycle', got {self.schedule!r}")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0):
            raise ValueError(f"lr must be a positive number, got {self.lr!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}")
        if isinstance(self.shift, bool) or not isinstance(self.shift, int) or self.shift < 0:
            raise ValueError(f"shift must be a non-negative int, got {self.shift!r}")


def _positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return value


# The recipes, per profile. `full` is what `python -m course bench --train`
# measures (see docs there); `fast` trains for seconds on subsets.
RECIPES = {
    # Chapter 6: the Net on CIFAR-2 (airplanes versus birds).
    "cifar2": {
        "full": RunSettings(epochs=120, batch_size=128, optimizer="adamw", lr=1e-2, weight_decay=5e-4,
                            schedule="onecycle", label_smoothing=0.1, shift=4, flip=True,
                            flip_test=True),
        "fast": RunSettings(epochs=4, batch_size=64, optimizer="adamw", lr=1e-2, weight_decay=5e-4,
                            schedule="onecycle", train_size=3000, test_size=1000),
    },
    # Chapter 6's reference recipe: plain SGD, lr 1e-2, batch 64 (100 epochs in the book).
    "cifar2_sgd": {
        "full": RunSettings(epochs=100, batch_size=64, optimizer="sgd", lr=1e-2),
        "fast": RunSettings(epochs=4, batch_size=64, optimizer="sgd", lr=1e-2,
                            train_size=3000, test_size=1000),
    },
    # Chapter 7: LeNet-5 (ReLU, max pool) on MNIST, conv1 padded by 2.
    "lenet5_mnist": {
        "full": RunSettings(epochs=16, batch_size=128, optimizer="adamw", lr=6e-3, weight_decay=0.05,
                            schedule="onecycle", label_smoothing=0.1, shift=2),
        "fast": RunSettings(epochs=2, batch_size=128, optimizer="adamw", lr=4e-3,
                            schedule="onecycle", train_size=6000, test_size=1000),
    },
    # Chapter 7: LeNet-5 on CIFAR-10.
    "lenet5_cifar10": {
        "full": RunSettings(epochs=30, batch_size=128, optimizer="adamw", lr=4e-3, weight_decay=5e-4,
                            schedule="onecycle", label_smoothing=0.1, shift=4, flip=True,
                            flip_test=True),
        "fast": RunSettings(epochs=2, batch_size=128, optimizer="adamw", lr=4e-3,
                            schedule="onecycle", train_size=5000, test_size=1000),
    },
    # Chapter 7's padding / pooling comparison (MnistCNN): the reference's
    # settings, SGD lr 0.01, batch 100, 3,000 iterations = 5 epochs of 60,000,
    # pixels scaled to [0, 1] as transforms.ToTensor() does.
    "mnist_compare": {
        "full": RunSettings(epochs=5, batch_size=100, optimizer="sgd", lr=0.01, normalize=False),
        "fast": RunSettings(epochs=1, batch_size=100, optimizer="sgd", lr=0.05, momentum=0.9,
                            normalize=False, train_size=6000, test_size=1000),
    },
}


def run_settings(name, profile_name=None, **overrides):
    """The RunSettings of recipe `name` for the current profile (or profile_name).

    name: one of RECIPES ("cifar2", "cifar2_sgd", "lenet5_mnist",
        "lenet5_cifar10", "mnist_compare").
    overrides: fields to change, e.g. run_settings("cifar2", epochs=3).

    >>> run_settings("mnist_compare", "full").batch_size
    100
    """
    if name not in RECIPES:
        raise ValueError(f"name must be one of {', '.join(sorted(RECIPES))}; got {name!r}")
    chosen = profile() if profile_name is None else profile_name
    if chosen not in PROFILES:
        raise ValueError(f"profile_name must be one of {', '.join(PROFILES)}, got {chosen!r}")
    settings = RECIPES[name][chosen]
    known = {f.name for f in fields(RunSettings)}
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise TypeError(f"run_settings got unknown fields {', '.join(unknown)}; "
                        f"RunSettings has {', '.join(sorted(known))}")
    return replace(settings, **overrides) if overrides else settings


def _as_settings(settings, default_name):
    if settings is None:
        return run_settings(default_name)
    if isinstance(settings, str):
        return run_settings(settings)
    if not isinstance(settings, RunSettings):
        raise TypeError(f"settings must be a RunSettings or a recipe name, got {type(settings).__name__}")
    return settings


# --------------------------------------------------------------------------
# Data: batches straight from the cached uint8 tensors
# --------------------------------------------------------------------------

def random_shift(x, max_shift):
    """Shift each image of x by its own random (dy, dx) in [-max_shift, max_shift], zero padded.

    x: (N, C, H, W) -> (N, C, H, W). The same as a random crop of the image
    padded by max_shift on every side (torchvision's RandomCrop(H, padding)),
    for a whole batch at once with one gather.
    """
    import torch
    import torch.nn.functional as F

    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (max_shift,) * 4)                                    # (N, C, H+2s, W+2s)
    dy = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), device=x.device)  # top-left corner
    dx = torch.randint(0, 2 * max_shift + 1, (n, 1, 1), device=x.device)
    rows = dy + torch.arange(h, device=x.device).view(1, h, 1)            # (N, H, 1)
    cols = dx + torch.arange(w, device=x.device).view(1, 1, w)            # (N, 1, W)
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2)  # (N, C, H, W)


def random_flip(x):
    """Mirror each image of x (N, C, H, W) left-right with probability 1/2."""
    import torch

    flip = torch.rand(x.shape[0], 1, 1, 1, device=x.device) < 0.5
    return torch.where(flip, x.flip(3), x)


class TensorLoader:
    """Batches (images, labels) from uint8 image tensors in memory, like a DataLoader.

    images: uint8 (N, C, H, W); labels: int64 (N,). Each batch is
    float32 (B, C, H, W), normalised with mean and std (per channel, on the
    [0, 1] scale; None: only divided by 255), then augmented (random shifts of
    up to `shift` pixels, random horizontal flips) when those are on.
    shuffle: a new order every epoch, from torch's global generator (so
    seed_everything makes it reproducible). device: keep the data there and
    build batches there (a GPU does the augmentation too).

    Much faster than a DataLoader with per-image transforms: one indexing,
    one normalisation and one gather per batch instead of B Python calls.
    """

    def __init__(self, images, labels, batch_size, shuffle=False, mean=None, std=None,
                 shift=0, flip=False, drop_last=False, device=None):
        import torch

        if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8 or images.ndim != 4:
            raise TypeError("images must be a uint8 tensor (N, C, H, W)")
        if not isinstance(labels, torch.Tensor) or labels.shape != (images.shape[0],):
            raise ValueError(f"labels must be a tensor of shape ({images.shape[0]},), "
                             f"got {getattr(labels, 'shape', type(labels).__name__)}")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.images, self.labels = images, labels
        if device is not None:
            self.images, self.labels = images.to(device), labels.to(device)
        self.shuffle, self.shift, self.flip, self.drop_last = shuffle, shift, flip, drop_last
        channels = images.shape[1]
        self.mean = torch.tensor(mean if mean is not None else (0.0,) * channels,
                                 dtype=torch.float32, device=self.images.device).view(1, channels, 1, 1)
        self.std = torch.tensor(std if std is not None else (1.0,) * channels,
                                dtype=torch.float32, device=self.images.device).view(1, channels, 1, 1)
        self.dataset = torch.utils.data.TensorDataset(images, labels)  # len(loader.dataset) works

    def __len__(self):
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        import torch

        n = len(self.labels)
        order = torch.randperm(n).to(self.images.device) if self.shuffle else None
        for i in range(len(self)):
            if order is None:
                images = self.images[i * self.batch_size:(i + 1) * self.batch_size]
                labels = self.labels[i * self.batch_size:(i + 1) * self.batch_size]
            else:
                index = order[i * self.batch_size:(i + 1) * self.batch_size]
                images, labels = self.images[index], self.labels[index]
            yield self._prepare(images), labels

    def _prepare(self, images):
        x = (images.float().div_(255) - self.mean).div_(self.std)  # (B, C, H, W) float32
        if self.shift:
            x = random_shift(x, self.shift)
        if self.flip:
            x = random_flip(x)
        return x


def _subset(images, labels, size):
    """The first `size` images of a fixed random order (the same every run), or all."""
    import torch

    if size is None or size >= len(labels):
        return images, labels
    keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:size]
    return images[keep], labels[keep]


def _channel_stats(images):
    """Per-channel mean and std of uint8 images (N, C, H, W), on the [0, 1] scale."""
    x = images.float().div_(255).transpose(0, 1).reshape(images.shape[1], -1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())


def _make_loaders(train_data, test_data, settings, mean, std, device):
    if not settings.normalize:
        mean = std = None
    train_images, train_labels = _subset(*train_data, settings.train_size)
    test_images, test_labels = _subset(*test_data, settings.test_size)
    train_loader = TensorLoader(train_images, train_labels, settings.batch_size, shuffle=True,
                                mean=mean, std=std, shift=settings.shift, flip=settings.flip,
                                device=device)
    test_loader = TensorLoader(test_images, test_labels, settings.eval_batch_size,
                               mean=mean, std=std, device=device)
    return train_loader, test_loader


def cifar2_loaders(settings=None, device=None):
    """(train_loader, test_loader) for CIFAR-2: (B, 3, 32, 32) images, labels 0 airplane / 1 bird.

    settings: a RunSettings or recipe name (default: run_settings("cifar2")),
    which decides the batch size, subset sizes, normalisation and augmentation.
    Normalised with the mean and std of CIFAR-2's 10,000 training images.
    """
    from helpers import data

    settings = _as_settings(settings, "cifar2")
    train_data, test_data = data.cifar2(train=True), data.cifar2(train=False)
    mean, std = _channel_stats(train_data[0])
    return _make_loaders(train_data, test_data, settings, mean, std, device)


def mnist_loaders(settings=None, device=None):
    """(train_loader, test_loader) for MNIST: (B, 1, 28, 28) images, labels 0-9.

    settings: a RunSettings or recipe name (default: run_settings("lenet5_mnist")).
    """
    from helpers import data

    settings = _as_settings(settings, "lenet5_mnist")
    return _make_loaders(data.load_mnist(train=True), data.load_mnist(train=False), settings,
                         data.MNIST_MEAN, data.MNIST_STD, device)


def cifar10_loaders(settings=None, device=None):
    """(train_loader, test_loader) for CIFAR-10: (B, 3, 32, 32) images, labels 0-9.

    settings: a RunSettings or recipe name (default: run_settings("lenet5_cifar10")).
    """
    from helpers import data

    settings = _as_settings(settings, "lenet5_cifar10")
    return _make_loaders(data.load_cifar10(train=True), data.load_cifar10(train=False), settings,
                         data.CIFAR10_MEAN, data.CIFAR10_STD, device)


# --------------------------------------------------------------------------
# The training loop
# --------------------------------------------------------------------------

@dataclass
class History:
    """What fit() measured, one entry per epoch.

    train_loss: mean cross-entropy per training image; train_acc: accuracy on
    the training batches as they were trained on (augmented, in train mode);
    val_loss, val_acc: on val_loader after the epoch (empty without one);
    epoch_time: seconds per epoch (training plus validation); device: where
    it ran. plot.curves(history.as_dict(), ("loss", "acc")) draws it.
    """

    train_loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    epoch_time: list = field(default_factory=list)
    device: str = "cpu"

    @property
    def epochs(self):
        return len(self.train_loss)

    @property
    def total_time(self):
        return sum(self.epoch_time)

    def as_dict(self):
        """{"train_loss": [...], "train_acc": [...], "val_loss": [...], "val_acc": [...]} (non-empty)."""
        series = asdict(self)
        return {k: v for k, v in series.items() if k in ("train_loss", "train_acc", "val_loss", "val_acc") and v}

    def __str__(self):
        if not self.epochs:
            return "History(no epochs)"
        last = f"train loss {self.train_loss[-1]:.4f}, train acc {self.train_acc[-1]:.4f}"
        if self.val_acc:
            last += f", val loss {self.val_loss[-1]:.4f}, val acc {self.val_acc[-1]:.4f}"
        return f"History({self.epochs} epochs, {self.total_time:.1f} s on {self.device}: {last})"


def make_optimizer(model, settings, steps_per_epoch):
    """(optimizer, scheduler or None) for model as settings say.

    With schedule="onecycle" the scheduler is a OneCycleLR over
    settings.epochs * steps_per_epoch batches, peaking at settings.lr; step it
    after every batch (fit does).
    """
    import torch

    params = model.parameters()
    if settings.optimizer == "sgd":
        optimizer = torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum,
                                    weight_decay=settings.weight_decay)
    elif settings.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    else:
        optimizer = torch.optim.AdamW(params, lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = None
    if settings.schedule == "onecycle":
        scheduler = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=settings.lr, epochs=settings.epochs, steps_per_epoch=steps_per_epoch)
    return optimizer, scheduler


def _model_device(model):
    import torch

    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


def _is_notebook():
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        return type(shell.get_ipython()).__name__ == "ZMQInteractiveShell"
    except Exception:
        return False


def _show_progress(progress):
    """progress=None: a bar in a notebook or on a terminal, none otherwise (CI, logs, pipes)."""
    if progress is None:
        return _is_notebook() or sys.stdout.isatty()
    return bool(progress)


def _batch_parts(batch):
    """(inputs, labels) of a batch: a (x, y) pair, or a dict with "x"/"image(s)" and "y"/"label(s)"."""
    if isinstance(batch, dict):
        x = next((batch[k] for k in ("x", "image", "images", "input", "inputs") if k in batch), None)
        y = next((batch[k] for k in ("y", "label", "labels", "target", "targets") if k in batch), None)
        if x is None or y is None:
            raise ValueError(f"a dict batch needs an input key (x, images) and a label key (y, labels); "
                             f"got {sorted(batch)}")
        return x, y
    if isinstance(batch, (list, tuple)) and len(batch) == 2:
        return batch[0], batch[1]
    raise ValueError(f"a batch must be (inputs, labels) or a dict; got {type(batch).__name__}"
                     + (f" of length {len(batch)}" if isinstance(batch, (list, tuple)) else ""))


def train_epoch(model, loader, optimizer, loss_fn, device, scheduler=None, bar=None):
    """One pass over loader, updating model. Returns (mean loss per image, accuracy).

    Every batch goes to device (inputs and labels, nested structures too);
    the model must already be there. scheduler (if any) steps after every batch.
    """
    _refuse_if_forbidden("train_epoch")
    return _train_epoch(model, loader, optimizer, loss_fn, device, scheduler, bar)


def _train_epoch(model, loader, optimizer, loss_fn, device, scheduler=None, bar=None):
    import torch

    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for batch in loader:
        x, y = _batch_parts(_to_device(batch, device, non_blocking=True))
        logits = model(x)                      # (B, num_classes)
        loss = loss_fn(logits, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            total_loss += loss.item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}", refresh=False)
    if seen == 0:
        raise ValueError("the training loader gave no batches")
    return total_loss / seen, correct / seen


def _logits(model, x, flip_test):
    """Logits, or with flip_test the log of the mean softmax of x and its mirror image."""
    import torch

    logits = model(x)
    if not flip_test:
        return logits
    probs = (logits.softmax(1) + model(x.flip(3)).softmax(1)) / 2
    return torch.log(probs.clamp_min(1e-12))


def _evaluate(model, loader, device, loss_fn=None, flip_test=False):
    """(mean loss or nan, accuracy) of model on loader, without gradients, in eval mode."""
    import torch

    was_training = model.training
    model.eval()
    total_loss, correct, seen = 0.0, 0, 0
    with torch.no_grad():
        for batch in loader:
            x, y = _batch_parts(_to_device(batch, device, non_blocking=True))
            logits = _logits(model, x, flip_test)
            if loss_fn is not None:
                total_loss += loss_fn(logits, y).item() * len(y)
            correct += (logits.argmax(1) == y).sum().item()
            seen += len(y)
    model.train(was_training)
    if seen == 0:
        raise ValueError("the loader gave no batches")
    return (total_loss / seen if loss_fn is not None else math.nan), correct / seen


def fit(model, train_loader, optimizer, epochs, *, loss_fn=None, scheduler=None, val_loader=None,
        device=None, callback=None, progress=None, flip_test=False, channels_last=False):
    """Train model for `epochs` passes over train_loader. Returns a History.

    model: moved to device (in place) first; device None: get_device().
    train_loader, val_loader: iterables of (inputs, labels) batches, e.g.
        TensorLoader or torch DataLoader; inputs (B, C, H, W), labels (B,).
        Every batch is moved to device.
    optimizer: built over model's parameters; loss_fn: default cross-entropy;
    scheduler: stepped after every batch (OneCycleLR and friends).
    callback: called as callback(history) after every epoch (a live plot).
    progress: a tqdm bar (None: only in a notebook or on a terminal).
    flip_test: validation averages each image with its mirror image.
    channels_last: store model and batches as NHWC (faster on some CPUs and GPUs).
    """
    _refuse_if_forbidden("fit")
    import torch
    from tqdm.auto import tqdm

    epochs = _positive_int(epochs, "epochs")
    device = torch.device(device) if device is not None else _best_device()
    loss_fn = loss_fn if loss_fn is not None else torch.nn.CrossEntropyLoss()
    model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
        train_loader = _ChannelsLast(train_loader)
        val_loader = _ChannelsLast(val_loader) if val_loader is not None else None
    history = History(device=str(device))
    try:
        steps = len(train_loader)
    except TypeError:
        steps = None
    bar = tqdm(total=steps * epochs if steps else None, unit="batch", leave=True,
               disable=not _show_progress(progress), mininterval=0.5)
    try:
        for epoch in range(epochs):
            bar.set_description(f"epoch {epoch + 1}/{epochs}")
            start = time.perf_counter()
            loss, acc = _train_epoch(model, train_loader, optimizer, loss_fn, device, scheduler, bar)
            history.train_loss.append(loss)
            history.train_acc.append(acc)
            if val_loader is not None:
                val_loss, val_acc = _evaluate(model, val_loader, device, loss_fn, flip_test)
                history.val_loss.append(val_loss)
                history.val_acc.append(val_acc)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            history.epoch_time.append(time.perf_counter() - start)
            if val_loader is not None:
                bar.set_postfix(loss=f"{loss:.3f}", acc=f"{acc:.3f}", val_acc=f"{history.val_acc[-1]:.3f}")
            if callback is not None:
                callback(history)
    finally:
        bar.close()
    return history


class _ChannelsLast:
    """Wraps a loader so that 4-D inputs come out in channels_last memory format."""

    def __init__(self, loader):
        self.loader = loader

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        import torch

        for batch in self.loader:
            x, y = _batch_parts(batch)
            yield (x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x), y


def train(model, settings, train_loader, val_loader=None, **fit_kwargs):
    """fit() with the optimiser, schedule, loss and epochs of settings. Returns a History.

    settings: a RunSettings or a recipe name (see run_settings). Other keyword
    arguments (device, callback, progress, channels_last) go to fit.
    """
    _refuse_if_forbidden("train")
    import torch

    if isinstance(settings, str):
        settings = run_settings(settings)
    if not isinstance(settings, RunSettings):
        raise TypeError(f"settings must be a RunSettings or a recipe name, got {type(settings).__name__}")
    optimizer, scheduler = make_optimizer(model, settings, len(train_loader))
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=settings.label_smoothing)
    fit_kwargs.setdefault("flip_test", settings.flip_test)
    return fit(model, train_loader, optimizer, settings.epochs, loss_fn=loss_fn, scheduler=scheduler,
               val_loader=val_loader, **fit_kwargs)


# --------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------

def evaluate(model, loader, device=None, flip_test=False):
    """Accuracy (a float in [0, 1]) of model on loader's (inputs, labels) batches.

    device: where to compute; None: where the model's parameters are. The
    model is moved there if needed and every batch follows it. Runs in eval
    mode without gradients and restores the model's mode afterwards.
    flip_test: classify by the mean softmax of each image and its mirror.
    """
    import torch

    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    return _evaluate(model, loader, device, flip_test=flip_test)[1]


def predict(model, loader, device=None, flip_test=False):
    """(predictions, labels) over the whole loader: two int64 CPU tensors of shape (N,)."""
    import torch

    device = torch.device(device) if device is not None else _model_device(model)
    model.to(device)
    was_training = model.training
    model.eval()
    predictions, labels = [], []
    with torch.no_grad():
        for batch in loader:
            x, y = _batch_parts(_to_device(batch, device, non_blocking=True))
            predictions.append(_logits(model, x, flip_test).argmax(1).cpu())
            labels.append(y.cpu())
    model.train(was_training)
    return torch.cat(predictions), torch.cat(labels)


def confusion_matrix(predictions, labels, num_classes=None):
    """(num_classes, num_classes) int64 counts: row = true class, column = prediction.

    predictions, labels: int tensors of shape (N,); num_classes: None means
    1 + the largest label or prediction.
    """
    _refuse_if_forbidden("confusion_matrix")
    import torch

    predictions, labels = _class_vectors(predictions, labels)
    if num_classes is None:
        num_classes = int(max(predictions.max(), labels.max())) + 1 if len(labels) else 0
    num_classes = _positive_int(num_classes, "num_classes")
    if len(labels) and (max(predictions.max(), labels.max()) >= num_classes
                        or min(predictions.min(), labels.min()) < 0):
        raise ValueError(f"predictions and labels must lie in 0 .. {num_classes - 1}")
    counts = torch.bincount(labels * num_classes + predictions, minlength=num_classes ** 2)
    return counts.view(num_classes, num_classes)


def per_class_accuracy(predictions, labels, num_classes=None):
    """Accuracy within each true class: float tensor (num_classes,), nan for a class with no images.

    >>> import torch
    >>> per_class_accuracy(torch.tensor([0, 1, 1, 1]), torch.tensor([0, 0, 1, 1]))
    tensor([0.5000, 1.0000])
    """
    _refuse_if_forbidden("per_class_accuracy")
    cm = confusion_matrix(predictions, labels, num_classes).double()
    return (cm.diagonal() / cm.sum(1)).float()


def _class_vectors(predictions, labels):
    import torch

    for name, t in (("predictions", predictions), ("labels", labels)):
        if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.ndim != 1:
            raise TypeError(f"{name} must be a 1-D integer tensor of class indices "
                            f"(use logits.argmax(1) for predictions)")
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {tuple(predictions.shape)} and labels {tuple(labels.shape)} "
                         f"must have the same shape")
    return predictions.long().cpu(), labels.long().cpu()
