"""Networks used by the chapters, built the same way every time.

    from helpers import models
    G = models.dcgan_generator()          # chapter 5: [B, 100, 1, 1] -> [B, 3, 64, 64]

Each builder returns a fresh, randomly initialised module (seed torch first
for reproducible weights). Chapter authors: add new builders below.
"""
import torch.nn as nn

from helpers._args import int_arg
from helpers._guard import reference

__all__ = ["dcgan_generator"]


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
