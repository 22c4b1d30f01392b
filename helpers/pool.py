"""Reference kernels for chapter 3: max and average pooling, and max pooling's gradient.

Pooling slides an f x f window with stride s (PyTorch's default: s = f) over
every channel separately; it has no parameters and keeps the channel count.
Output size per axis: floor((n + 2p - f) / s) + 1. Written with explicit
loops over output positions, for reading.

Padding p must be at most half the window (p <= f / 2 on each axis), as in
PyTorch, so that every window holds at least one real input value.

The curriculum's 1-D examples are 1 x n images with f = (1, 3): padding then
goes on the width only, p = (0, 1).
"""
import torch

from helpers._args import (check_fits, numpy_io, out_size, pair_arg, same_dtype,
                           tensor_arg)
from helpers._guard import reference

__all__ = ["max_pool2d", "avg_pool2d", "max_pool2d_backward"]


def _pool_args(X, f, s, p, name="X"):
    """Check pooling arguments. Returns X batched (4-D), unbatched flag, f, s, p, output size."""
    tensor_arg(X, name, {4: "(N, C, H, W)", 3: "(C, H, W)"})
    unbatched = X.dim() == 3
    if unbatched:
        X = X.unsqueeze(0)
    kh, kw = pair_arg(f, "f", 1)
    sh, sw = pair_arg((kh, kw) if s is None else s, "s", 1)
    ph, pw = pair_arg(p, "p", 0)
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(
            f"p must be at most half the window size f = {(kh, kw)}; got p = {(ph, pw)} "
            f"(PyTorch's rule: otherwise a window could hold only padding)"
        )
    H, W = X.shape[2:]
    check_fits((kh, kw), (H, W), (ph, pw), "f", name)
    Ho, Wo = out_size(H, kh, ph, sh), out_size(W, kw, pw, sw)
    return X, unbatched, (kh, kw), (sh, sw), (ph, pw), (Ho, Wo)


def _pad(X, ph, pw, value):
    """Pad the last two axes with `value` (a number) on each side."""
    N, C, H, W = X.shape
    Xp = X.new_full((N, C, H + 2 * ph, W + 2 * pw), value)
    Xp[:, :, ph:ph + H, pw:pw + W] = X
    return Xp


def _lowest(dtype):
    """The value that never wins a max: -inf for floats, the smallest integer otherwise."""
    return -float("inf") if dtype.is_floating_point else torch.iinfo(dtype).min


@reference
@numpy_io
def max_pool2d(X, f, s=None, p=0):
    """Max pooling: the largest value of every window, channel by channel.

    X: (N, C, H, W) or (C, H, W); f, s, p: int or (h, w); s defaults to f
    -> (N, C, H', W'), H' = floor((H + 2ph - fh) / sh) + 1, with
        Y[n, c, i, j] = max_{a, e} Xp[n, c, i*sh + a, j*sw + e]
    where Xp is X padded with -inf (padding never wins). Equal to
    F.max_pool2d(X, f, s, p).

    >>> x = torch.tensor([[[4., 9, 3, 0, 3, 9, 7, 3, 7, 3]]])   # a 1 x 10 image
    >>> max_pool2d(x, (1, 3))
    tensor([[[9., 9., 7.]]])
    >>> max_pool2d(x, (1, 3), s=1, p=(0, 1))    # padding on the width only
    tensor([[[9., 9., 9., 3., 9., 9., 9., 7., 7., 7.]]])
    """
    X, unbatched, (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = _pool_args(X, f, s, p)
    Xp = _pad(X, ph, pw, _lowest(X.dtype))
    Y = X.new_zeros(X.shape[0], X.shape[1], Ho, Wo)
    for i in range(Ho):
        for j in range(Wo):
            window = Xp[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw]
            Y[:, :, i, j] = window.amax(dim=(2, 3))
    return Y[0] if unbatched else Y


@reference
@numpy_io
def avg_pool2d(X, f, s=None, p=0, count_include_pad=True):
    """Average pooling: the mean of every window, channel by channel.

    X: (N, C, H, W) or (C, H, W), floating point; f, s, p: int or (h, w);
    s defaults to f -> (N, C, H', W') with
        Y[n, c, i, j] = sum of the window of Xp (X padded with zeros) / divisor
    divisor = fh * fw if count_include_pad (padding zeros count), else the
    number of real (non-padding) cells in the window. Equal to
    F.avg_pool2d(X, f, s, p, count_include_pad=count_include_pad).

    >>> x = torch.tensor([[[4., 9, 3, 0, 3, 9, 7, 3, 7, 3]]])
    >>> avg_pool2d(x, (1, 3))
    tensor([[[5.3333, 4.0000, 5.6667]]])
    >>> avg_pool2d(x, (1, 3), s=1, p=(0, 1))[0, 0, :2]    # (0 + 4 + 9) / 3, (4 + 9 + 3) / 3
    tensor([4.3333, 5.3333])
    >>> avg_pool2d(x, (1, 3), s=1, p=(0, 1), count_include_pad=False)[0, 0, :2]
    tensor([6.5000, 5.3333])
    """
    X, unbatched, (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = _pool_args(X, f, s, p)
    if not X.dtype.is_floating_point:
        raise TypeError(
            f"X must be floating point for average pooling; got {X.dtype}. Use X.float()"
        )
    if not isinstance(count_include_pad, bool):
        raise TypeError(f"count_include_pad must be True or False; got {count_include_pad!r}")
    Xp = _pad(X, ph, pw, 0)
    real = _pad(torch.ones_like(X[:1, :1]), ph, pw, 0)   # 1 on real cells, 0 on padding
    Y = X.new_zeros(X.shape[0], X.shape[1], Ho, Wo)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            total = Xp[:, :, rows, cols].sum(dim=(2, 3))
            count = kh * kw if count_include_pad else real[0, 0, rows, cols].sum()
            Y[:, :, i, j] = total / count
    return Y[0] if unbatched else Y


@reference
@numpy_io
def max_pool2d_backward(dout, X, f, s=None, p=0):
    """Gradient of max pooling with respect to its input.

    dout: (N, C, H', W') upstream gradient (shaped like max_pool2d's output),
    X: (N, C, H, W) the forward input (or both unbatched); f, s, p as in
    max_pool2d -> dX shaped like X: each dout[n, c, i, j] goes to the position
    of the maximum of its window, all other positions get 0; where windows
    overlap (s < f) the contributions add up.

    Ties: the first maximum in row-major order within the window gets the
    gradient, as PyTorch does. With no ties this equals autograd through
    F.max_pool2d.

    >>> X = torch.tensor([[[[1., 2], [4, 3]]]])
    >>> max_pool2d_backward(torch.ones(1, 1, 1, 1), X, 2)
    tensor([[[[0., 0.],
              [1., 0.]]]])
    """
    Xb, unbatched, (kh, kw), (sh, sw), (ph, pw), (Ho, Wo) = _pool_args(X, f, s, p)
    tensor_arg(dout, "dout", {4: "(N, C, H', W')", 3: "(C, H', W')"})
    same_dtype(dout=dout, X=Xb)
    expected = (Xb.shape[:2] if not unbatched else Xb.shape[1:2]) + (Ho, Wo)
    if tuple(dout.shape) != tuple(expected):
        raise ValueError(
            f"dout must have the shape of max_pool2d's output, {tuple(expected)}; "
            f"got {tuple(dout.shape)}"
        )
    if unbatched:
        dout = dout.unsqueeze(0)
    N, C, H, W = Xb.shape
    Xp = _pad(Xb, ph, pw, _lowest(Xb.dtype))
    dXp = torch.zeros_like(Xp)
    for i in range(Ho):
        for j in range(Wo):
            rows, cols = slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)
            window = Xp[:, :, rows, cols].reshape(N, C, kh * kw)
            first_max = window.argmax(dim=2, keepdim=True)          # (N, C, 1)
            onehot = torch.zeros_like(window).scatter_(2, first_max, 1)
            dXp[:, :, rows, cols] += (onehot * dout[:, :, i, j, None]).view(N, C, kh, kw)
    dX = dXp[:, :, ph:ph + H, pw:pw + W]
    return dX[0] if unbatched else dX
