"""Networks used by the chapters, built the same way every time.

    from helpers import models
    G = models.dcgan_generator()          # chapter 5: (B, 100, 1, 1) -> (B, 3, 64, 64)
    net = models.Net()                    # chapter 6: (B, 3, 32, 32) -> (B, 2), 18,090 parameters
    lenet = models.LeNet5(in_channels=1)  # chapter 7: (B, 1, 28, 28) -> (B, 10), 61,706 parameters
    cnn = models.MnistCNN("same", "max")  # chapter 7: (B, 1, 28, 28) -> (B, 10), 28,938 parameters

Each builder returns a fresh, randomly initialised module (seed torch first
for reproducible weights). The model classes are reference solutions:
inside `check.forbid("Net")` (the class name) building one is refused, so a
test can make sure an answer builds its own; "*" leaves them on, so a test can
build one to hand to the student's code inside a forbid block. Chapter
authors: add new builders below.
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import _guard
from helpers._args import int_arg
from helpers._guard import reference

__all__ = ["dcgan_generator", "Net", "NetModules", "net_functional", "LeNet5", "MnistCNN",
           "count_parameters", "parameter_table"]


def _refuse_if_forbidden(name):
    """Chapter 7's exercises count parameters: inside check.forbid(name) the
    reference refuses to run (by name only, not for "*")."""
    _tripwire(name)()


def _tripwire(name):
    """A function that refuses to run inside check.forbid(name): call it when building `name`.

    Only the name itself switches a model off, not "*": a test may build a
    model to hand to the student's code inside a forbid("*") block.
    """
    def tripwire():
        if name in _guard._forbidden_kernels.get() and not _guard._inside_reference.get():
            raise _guard.ForbiddenCall(
                f"your answer used helpers.models.{name}, the course's reference solution. "
                f"Write your own version: building it is the exercise.")

    tripwire.__name__ = tripwire.__qualname__ = name
    return tripwire


_NET_BUILT = _tripwire("Net")
_NET_MODULES_BUILT = _tripwire("NetModules")
_LENET5_BUILT = _tripwire("LeNet5")
_MNIST_CNN_BUILT = _tripwire("MnistCNN")


# --------------------------------------------------------------------------
# Counting parameters
# --------------------------------------------------------------------------

def count_parameters(model):
    """Number of trainable parameters (buffers such as BatchNorm statistics not counted)."""
    _refuse_if_forbidden("count_parameters")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def parameter_table(model):
    """[(name, shape, count), ...] for every parameter tensor, in state_dict order.

    >>> [count for _, _, count in parameter_table(Net())]
    [432, 16, 1152, 8, 16384, 32, 64, 2]
    """
    _refuse_if_forbidden("parameter_table")
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return [(name, tuple(p.shape), p.numel()) for name, p in model.named_parameters()]


# --------------------------------------------------------------------------
# Chapter 5: DCGAN generator
# --------------------------------------------------------------------------

@reference
def dcgan_generator(nz=100, ngf=64, nc=3):
    """The DCGAN generator (Radford, Metz, Chintala, 2015) as an nn.Sequential.

    The layout of PyTorch's DCGAN example (the paper's generator is twice as
    wide: 1024 channels at 4x4).

    nz: length of the noise vector z; ngf: feature maps of the last hidden
    layer (the others have 2, 4, 8 times as many); nc: image channels.
    Input (B, nz, 1, 1) -> output (B, nc, 64, 64), values in (-1, 1).

        layer                                       output shape
        ConvTranspose2d(nz, 8ngf, 4, 1, 0), BN, ReLU  (B, 8ngf,  4,  4)
        ConvTranspose2d(8ngf, 4ngf, 4, 2, 1), BN, ReLU (B, 4ngf,  8,  8)
        ConvTranspose2d(4ngf, 2ngf, 4, 2, 1), BN, ReLU (B, 2ngf, 16, 16)
        ConvTranspose2d(2ngf, ngf, 4, 2, 1), BN, ReLU  (B, ngf,  32, 32)
        ConvTranspose2d(ngf, nc, 4, 2, 1), Tanh        (B, nc,   64, 64)

    As in PyTorch's DCGAN example, the transposed convolutions have no bias
    (bias=False; the BatchNorm after each has its own shift). With the
    defaults: 3,574,784 convolution weights and 1,920 BatchNorm parameters,
    3,576,704 parameters in all (BatchNorm's running statistics are buffers,
    not parameters).
    """
    nz = int_arg(nz, "nz", 1)
    ngf = int_arg(ngf, "ngf", 1)
    nc = int_arg(nc, "nc", 1)
    widths = [nz, 8 * ngf, 4 * ngf, 2 * ngf, ngf]
    layers = []
    for i, (c_in, c_out) in enumerate(zip(widths, widths[1:])):
        stride, padding = (1, 0) if i == 0 else (2, 1)
        layers += [nn.ConvTranspose2d(c_in, c_out, 4, stride, padding, bias=False),
                   nn.BatchNorm2d(c_out),
                   nn.ReLU(inplace=True)]
    layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


# --------------------------------------------------------------------------
# Chapter 6: the CIFAR-2 Net (airplanes versus birds), three ways
# --------------------------------------------------------------------------

def _check_images(x, model, channels, size):
    """Fail early, naming the model, if x is not a (B, channels, size, size) batch."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} takes a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 4 or x.shape[1] != channels or tuple(x.shape[2:]) != (size, size):
        raise ValueError(f"{model} takes a batch of shape (B, {channels}, {size}, {size}); "
                         f"got {tuple(x.shape)}"
                         + (" (add the batch axis: x.unsqueeze(0))" if x.ndim == 3 else ""))


class NetModules(nn.Module):
    """The CIFAR-2 Net with every layer a module attribute; forward chains them.

    Input (B, 3, 32, 32) float images -> output (B, 2) logits (airplane, bird).

        layer                              output shape    parameters
        conv1 = Conv2d(3, 16, 3, padding=1) (B, 16, 32, 32)  432 + 16
        act1 = Tanh, pool1 = MaxPool2d(2)   (B, 16, 16, 16)
        conv2 = Conv2d(16, 8, 3, padding=1) (B, 8, 16, 16)   1,152 + 8
        act2 = Tanh, pool2 = MaxPool2d(2)   (B, 8, 8, 8)
        flatten                             (B, 512)
        fc1 = Linear(512, 32), act3 = Tanh  (B, 32)          16,384 + 32
        fc2 = Linear(32, 2)                 (B, 2)           64 + 2
                                                             18,090 in all

    Its state_dict keys equal Net's, so weights move between the two with
    load_state_dict.
    """

    def __init__(self):
        super().__init__()
        _NET_MODULES_BUILT()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.act1 = nn.Tanh()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.act2 = nn.Tanh()
        self.pool2 = nn.MaxPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.act3 = nn.Tanh()
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        """x: (B, 3, 32, 32) -> logits (B, 2)."""
        _check_images(x, "NetModules", 3, 32)
        out = self.pool1(self.act1(self.conv1(x)))    # (B, 16, 16, 16)
        out = self.pool2(self.act2(self.conv2(out)))  # (B, 8, 8, 8)
        out = self.flatten(out)                       # (B, 512)
        out = self.act3(self.fc1(out))                # (B, 32)
        return self.fc2(out)                          # (B, 2)


class Net(nn.Module):
    """The CIFAR-2 Net in its functional form: only the layers with parameters are attributes.

    Input (B, 3, 32, 32) float images -> output (B, 2) logits (airplane, bird).
    forward uses torch.tanh and F.max_pool2d where NetModules has modules; the
    outputs are identical for identical weights, and so are the state_dict
    keys (conv1, conv2, fc1, fc2): 18,090 parameters,
    [432, 16, 1152, 8, 16384, 32, 64, 2] tensor by tensor.
    """

    def __init__(self):
        super().__init__()
        _NET_BUILT()
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)
        self.fc1 = nn.Linear(8 * 8 * 8, 32)
        self.fc2 = nn.Linear(32, 2)

    def forward(self, x):
        """x: (B, 3, 32, 32) -> logits (B, 2)."""
        _check_images(x, "Net", 3, 32)
        out = F.max_pool2d(torch.tanh(self.conv1(x)), 2)    # (B, 16, 16, 16)
        out = F.max_pool2d(torch.tanh(self.conv2(out)), 2)  # (B, 8, 8, 8)
        out = out.flatten(1)                                # (B, 512)
        out = torch.tanh(self.fc1(out))                     # (B, 32)
        return self.fc2(out)                                # (B, 2)


@reference
def net_functional(x, params):
    """The CIFAR-2 Net as one function of its input and a dict of weights.

    x: (B, 3, 32, 32); params: Net's (or NetModules') state_dict, or any dict
    with the keys conv1.weight, conv1.bias, conv2.weight, conv2.bias,
    fc1.weight, fc1.bias, fc2.weight, fc2.bias. Returns logits (B, 2), equal
    to Net's with those weights.
    """
    _check_images(x, "net_functional", 3, 32)
    missing = [k for k in Net._KEYS if k not in params]
    if missing:
        raise KeyError(f"params is missing {', '.join(missing)} (pass net.state_dict())")
    p = params
    out = F.max_pool2d(torch.tanh(F.conv2d(x, p["conv1.weight"], p["conv1.bias"], padding=1)), 2)
    out = F.max_pool2d(torch.tanh(F.conv2d(out, p["conv2.weight"], p["conv2.bias"], padding=1)), 2)
    out = torch.tanh(F.linear(out.flatten(1), p["fc1.weight"], p["fc1.bias"]))
    return F.linear(out, p["fc2.weight"], p["fc2.bias"])


Net._KEYS = ("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias",
             "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias")


# --------------------------------------------------------------------------
# Chapter 7: LeNet-5 (a modern variant) and the MNIST comparison models
# --------------------------------------------------------------------------

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}
_POOLS = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}


def _choice(value, name, options):
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(repr(o) for o in options)}; got {value!r}")
    return value


class _NamedSequential(nn.Sequential):
    """An nn.Sequential of named layers whose slices are plain nn.Sequentials (model[:6])."""

    def __getitem__(self, index):
        if isinstance(index, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)


class LeNet5(_NamedSequential):
    """LeNet-5, the common modern variant (ReLU and max pooling by default).

    LeCun, Bottou, Bengio, Haffner (1998): conv 6@5x5, subsample, conv 16@5x5,
    subsample, fully connected 120, 84, 10. The 1998 network had trainable
    subsampling, a partially connected C3 and RBF outputs; this is the
    variant everyone trains today.

    in_channels: 3 for CIFAR-10, 1 for MNIST; num_classes: outputs.
    image_size: 32 (CIFAR-10) or 28 (MNIST); None means 28 for one channel,
        32 otherwise. conv1 is padded by (32 - image_size) // 2, so a 28x28
        digit is seen as 32x32 and the flatten always has 16*5*5 = 400 features.
    activation: "relu" (modern) or "tanh" (as in 1998); pool: "max" or "avg".

    Input (B, in_channels, image_size, image_size) -> logits (B, num_classes).

        layer                             output shape     parameters (3 channels / 1)
        conv1 = Conv2d(C, 6, 5, padding)  (B, 6, 28, 28)   456 / 156
        act1, pool1 (2x2)                 (B, 6, 14, 14)
        conv2 = Conv2d(6, 16, 5)          (B, 16, 10, 10)  2,416
        act2, pool2 (2x2)                 (B, 16, 5, 5)
        flatten                           (B, 400)
        fc1 = Linear(400, 120), act3      (B, 120)         48,120
        fc2 = Linear(120, 84), act4       (B, 84)          10,164
        fc3 = Linear(84, num_classes)     (B, 10)          850
                                                           62,006 / 61,706 in all

    An nn.Sequential with named layers: model.conv1, model.named_children(),
    model[:6] (the feature extractor) all work.
    """

    def __init__(self, in_channels=3, num_classes=10, image_size=None, activation="relu", pool="max"):
        in_channels = int_arg(in_channels, "in_channels", 1)
        num_classes = int_arg(num_classes, "num_classes", 1)
        if image_size is None:
            image_size = 28 if in_channels == 1 else 32
        image_size = int_arg(image_size, "image_size", 1)
        if image_size > 32 or (32 - image_size) % 2:
            raise ValueError(f"image_size must be 32, 30, 28, ... (conv1 pads by (32 - image_size) / 2); "
                             f"got {image_size}")
        Act = _ACTIVATIONS[_choice(activation, "activation", tuple(_ACTIVATIONS))]
        Pool = _POOLS[_choice(pool, "pool", tuple(_POOLS))]
        _LENET5_BUILT()
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(in_channels, 6, kernel_size=5, padding=(32 - image_size) // 2)),
            ("act1", Act()),
            ("pool1", Pool(2)),
            ("conv2", nn.Conv2d(6, 16, kernel_size=5)),
            ("act2", Act()),
            ("pool2", Pool(2)),
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * 5 * 5, 120)),
            ("act3", Act()),
            ("fc2", nn.Linear(120, 84)),
            ("act4", Act()),
            ("fc3", nn.Linear(84, num_classes)),
        ]))
        self.in_channels, self.image_size = in_channels, image_size

    def forward(self, x):
        """x: (B, in_channels, image_size, image_size) -> logits (B, num_classes)."""
        _check_images(x, f"LeNet5(in_channels={self.in_channels}, image_size={self.image_size})",
                      self.in_channels, self.image_size)
        return super().forward(x)


class MnistCNN(_NamedSequential):
    """Chapter 7's comparison model: two conv layers (16 and 32 filters of 5x5), one linear layer.

    padding: "same" (pad 2: 28 -> 28 -> pool 14 -> 14 -> pool 7) or "valid"
        (no padding: 28 -> 24 -> pool 12 -> 8 -> pool 4).
    pool: "max" or "avg" (2x2, stride 2). ReLU after each convolution.

    Input (B, 1, 28, 28) -> logits (B, 10).

        layer                           "same" output / params   "valid" output / params
        conv1 = Conv2d(1, 16, 5)        (B, 16, 28, 28)  416     (B, 16, 24, 24)  416
        act1, pool1                     (B, 16, 14, 14)          (B, 16, 12, 12)
        conv2 = Conv2d(16, 32, 5)       (B, 32, 14, 14)  12,832  (B, 32, 8, 8)    12,832
        act2, pool2                     (B, 32, 7, 7)            (B, 32, 4, 4)
        flatten, fc = Linear(., 10)     (B, 10)          15,690  (B, 10)          5,130
                                                         28,938                   18,378
    """

    def __init__(self, padding="same", pool="max"):
        _choice(padding, "padding", ("same", "valid"))
        Pool = _POOLS[_choice(pool, "pool", tuple(_POOLS))]
        pad = 2 if padding == "same" else 0
        side = 7 if padding == "same" else 4
        _MNIST_CNN_BUILT()
        super().__init__(OrderedDict([
            ("conv1", nn.Conv2d(1, 16, kernel_size=5, padding=pad)),
            ("act1", nn.ReLU()),
            ("pool1", Pool(2)),
            ("conv2", nn.Conv2d(16, 32, kernel_size=5, padding=pad)),
            ("act2", nn.ReLU()),
            ("pool2", Pool(2)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(32 * side * side, 10)),
        ]))
        self.padding, self.pool = padding, pool

    def forward(self, x):
        """x: (B, 1, 28, 28) -> logits (B, 10)."""
        _check_images(x, f"MnistCNN(padding={self.padding!r}, pool={self.pool!r})", 1, 28)
        return super().forward(x)
