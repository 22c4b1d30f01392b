"""Reference kernels for chapters 1-2: convolution by hand, padding and stride.

Deep-learning "convolution" is cross-correlation: the kernel is not flipped.
These are written for reading, with explicit loops over output positions,
not for speed (chapter 4 makes convolution fast).

Every kernel takes torch tensors or NumPy arrays (NumPy in, NumPy out), keeps
the input dtype (integer inputs give integer outputs), and raises a
ValueError / TypeError naming the argument when given something it cannot use.
"""
import math

import torch

from helpers._args import (check_fits, int_arg, numpy_io, out_size, pair_arg,
                           same_dtype, tensor_arg)
from helpers._guard import reference

__all__ = [
    "corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1d", "conv1d_matrix",
    "conv_params", "fc_params", "conv_output_size", "pad2d", "conv2d",
]


@reference
@numpy_io
def corr2d(X, K):
    """Valid 2-D cross-correlation of one channel.

    X: (H, W), K: (kh, kw) -> Y: (H - kh + 1, W - kw + 1) with
        Y[i, j] = sum_{a, b} X[i + a, j + b] * K[a, b]

    >>> corr2d(torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]]), torch.tensor([[0, 1], [2, 3]]))
    tensor([[19, 25],
            [37, 43]])

    (0*0 + 1*1 + 3*2 + 4*3 = 19.)
    """
    tensor_arg(X, "X", {2: "(H, W)"})
    tensor_arg(K, "K", {2: "(kh, kw)"})
    same_dtype(X=X, K=K)
    check_fits(K.shape, X.shape, (0, 0), "K", "X")
    kh, kw = K.shape
    Y = X.new_zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y


@reference
@numpy_io
def corr2d_multi_in(X, K):
    """Cross-correlation over several input channels, summed into one output map.

    X: (C, H, W), K: (C, kh, kw) -> (H - kh + 1, W - kw + 1):
        Y = sum_c corr2d(X[c], K[c])

    Example: two channels, each the 3x3 ramp 0..8 with kernel [[0,1],[2,3]],
    give 2 * [[19, 25], [37, 43]].
    """
    tensor_arg(X, "X", {3: "(C, H, W)"})
    tensor_arg(K, "K", {3: "(C, kh, kw)"})
    same_dtype(X=X, K=K)
    if X.shape[0] != K.shape[0]:
        raise ValueError(
            f"X and K must have the same number of channels; got X with {X.shape[0]} "
            f"(shape {tuple(X.shape)}) and K with {K.shape[0]} (shape {tuple(K.shape)})"
        )
    check_fits(K.shape[1:], X.shape[1:], (0, 0), "K", "X")
    Y = corr2d(X[0], K[0])
    for c in range(1, X.shape[0]):
        Y = Y + corr2d(X[c], K[c])
    return Y


@reference
@numpy_io
def corr2d_multi_in_out(X, K):
    """Several input channels in, several output channels out.

    X: (C_in, H, W), K: (C_out, C_in, kh, kw) -> (C_out, H - kh + 1, W - kw + 1):
        Y[o] = corr2d_multi_in(X, K[o])

    Example: K = torch.stack([K0, K0 + 1, K0 + 2]) gives three output maps,
    the first equal to corr2d_multi_in(X, K0).
    """
    tensor_arg(X, "X", {3: "(C_in, H, W)"})
    tensor_arg(K, "K", {4: "(C_out, C_in, kh, kw)"})
    same_dtype(X=X, K=K)
    if X.shape[0] != K.shape[1]:
        raise ValueError(
            f"K must have C_in = {X.shape[0]} input channels like X (shape "
            f"{tuple(X.shape)}); got K of shape {tuple(K.shape)} with {K.shape[1]}"
        )
    check_fits(K.shape[2:], X.shape[1:], (0, 0), "K", "X")
    return torch.stack([corr2d_multi_in(X, k) for k in K])


@reference
@numpy_io
def conv1d(x, k, stride=1, padding=0):
    """1-D cross-correlation with stride and zero padding.

    x: (n,), k: (f,) -> y: (floor((n + 2p - f) / s) + 1,) with
        y[i] = sum_a xp[i * s + a] * k[a],   xp = x with p zeros on each side

    >>> x = torch.tensor([1, 2, 3, 2, 5, 1]); k = torch.tensor([1, 2])
    >>> conv1d(x, k)
    tensor([ 5,  8,  7, 12,  7])
    >>> conv1d(x, k, stride=2)
    tensor([5, 7, 7])
    >>> conv1d(x, k, padding=1)
    tensor([ 2,  5,  8,  7, 12,  7,  1])
    """
    tensor_arg(x, "x", {1: "(n,)"})
    tensor_arg(k, "k", {1: "(f,)"})
    same_dtype(x=x, k=k)
    s = int_arg(stride, "stride", 1)
    p = int_arg(padding, "padding", 0)
    n, f = x.shape[0], k.shape[0]
    if f > n + 2 * p:
        raise ValueError(
            f"k (length {f}) is longer than x padded by {p} on each side "
            f"(length {n + 2 * p}); the kernel must fit in the padded input"
        )
    xp = x.new_zeros(n + 2 * p)
    xp[p:p + n] = x
    y = x.new_zeros(out_size(n, f, p, s))
    for i in range(y.shape[0]):
        y[i] = (xp[i * s:i * s + f] * k).sum()
    return y


@reference
@numpy_io
def conv1d_matrix(k, n):
    """The matrix of a valid 1-D cross-correlation: A @ x == conv1d(x, k).

    k: (f,), n: input length -> A: (n - f + 1, n), row i holding k at columns
    i .. i + f - 1 and zeros elsewhere (same dtype as k).

    >>> conv1d_matrix(torch.tensor([-1., 1.]), 4)
    tensor([[-1.,  1.,  0.,  0.],
            [ 0., -1.,  1.,  0.],
            [ 0.,  0., -1.,  1.]])
    """
    tensor_arg(k, "k", {1: "(f,)"})
    n = int_arg(n, "n", 1)
    f = k.shape[0]
    if f > n:
        raise ValueError(f"n must be at least len(k) = {f}; got n = {n}")
    A = k.new_zeros(n - f + 1, n)
    for i in range(n - f + 1):
        A[i, i:i + f] = k
    return A


@reference
def conv_params(c_in, c_out, kh, kw, bias=True):
    """Number of learnable parameters of a conv layer (independent of image size).

    c_out filters of c_in * kh * kw weights each, plus one bias per filter:
        c_out * (c_in * kh * kw + 1)      (bias=False: c_out * c_in * kh * kw)

    >>> conv_params(3, 16, 3, 3)    # 16 * (27 + 1)
    448
    """
    c_in = int_arg(c_in, "c_in", 1)
    c_out = int_arg(c_out, "c_out", 1)
    kh = int_arg(kh, "kh", 1)
    kw = int_arg(kw, "kw", 1)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False; got {bias!r}")
    return c_out * (c_in * kh * kw + int(bias))


@reference
def fc_params(n_inputs, n_units, bias=True):
    """Number of learnable parameters of a fully connected layer.

    n_inputs: number of input values, an int, or the input's shape as a tuple
    (e.g. (3, 32, 32), multiplied out); n_units: number of units.
        weights only (bias=False): n_units * n_inputs
        weights + biases (bias=True): n_units * (n_inputs + 1)

    >>> fc_params((3, 32, 32), 1, bias=False)    # one unit on a 32x32x3 image: 3,072 weights
    3072
    >>> fc_params(3 * 32 * 32, 1)                 # ... plus its bias
    3073
    >>> fc_params(200 * 200 * 3, 1000, bias=False)
    120000000
    """
    if isinstance(n_inputs, (tuple, list, torch.Size)):
        n_inputs = math.prod(int_arg(d, "n_inputs", 1) for d in n_inputs)
    n_inputs = int_arg(n_inputs, "n_inputs", 1)
    n_units = int_arg(n_units, "n_units", 1)
    if not isinstance(bias, bool):
        raise TypeError(f"bias must be True or False; got {bias!r}")
    return n_units * (n_inputs + int(bias))


@reference
def conv_output_size(n, f, p=0, s=1):
    """Output length along one axis of a convolution or pooling window.

        floor((n + 2p - f) / s) + 1

    n: input size, f: kernel size, p: zero padding on each side, s: stride.
    ValueError, naming the argument, when the setting is impossible (f larger
    than the padded input, s < 1, p < 0, n < 1, f < 1, non-integers).

    >>> conv_output_size(64, 6, p=1, s=2)
    31
    """
    n = int_arg(n, "n", 1)
    f = int_arg(f, "f", 1)
    p = int_arg(p, "p", 0)
    s = int_arg(s, "s", 1)
    if f > n + 2 * p:
        raise ValueError(
            f"f = {f} is larger than the padded input n + 2p = {n} + 2*{p} = {n + 2 * p}"
        )
    return out_size(n, f, p, s)


@reference
@numpy_io
def pad2d(X, p):
    """Zero padding of the last two axes: p zeros on each side.

    X: (..., H, W), p: int or (ph, pw) -> (..., H + 2ph, W + 2pw), same dtype.

    >>> pad2d(torch.ones(2, 2), 1)
    tensor([[0., 0., 0., 0.],
            [0., 1., 1., 0.],
            [0., 1., 1., 0.],
            [0., 0., 0., 0.]])
    """
    tensor_arg(X, "X", {"2+": "(..., H, W)"})
    ph, pw = pair_arg(p, "p", 0)
    H, W = X.shape[-2:]
    out = X.new_zeros(*X.shape[:-2], H + 2 * ph, W + 2 * pw)
    out[..., ph:ph + H, pw:pw + W] = X
    return out


def _conv2d_args(X, W, b, stride, padding):
    """Shared checks of conv2d and conv2d_im2col. Returns X batched, flags, sizes."""
    tensor_arg(X, "X", {4: "(N, C_in, H, W)", 3: "(C_in, H, W)"})
    tensor_arg(W, "W", {4: "(C_out, C_in, kh, kw)"})
    if b is not None:
        tensor_arg(b, "b", {1: "(C_out,)"})
    same_dtype(X=X, W=W, b=b)
    unbatched = X.dim() == 3
    if unbatched:
        X = X.unsqueeze(0)
    if X.shape[1] != W.shape[1]:
        raise ValueError(
            f"W must have C_in = {X.shape[1]} input channels like X (shape "
            f"{tuple(X.shape[int(unbatched):])}); got W of shape {tuple(W.shape)} "
            f"with {W.shape[1]}"
        )
    if b is not None and b.shape[0] != W.shape[0]:
        raise ValueError(
            f"b must have one entry per filter, C_out = {W.shape[0]}; got shape {tuple(b.shape)}"
        )
    sh, sw = pair_arg(stride, "stride", 1)
    ph, pw = pair_arg(padding, "padding", 0)
    H, Wd = X.shape[2:]
    kh, kw = W.shape[2:]
    check_fits((kh, kw), (H, Wd), (ph, pw), "W", "X")
    return X, unbatched, (sh, sw), (ph, pw)


@reference
@numpy_io
def conv2d(X, W, b=None, stride=1, padding=0):
    """2-D convolution layer (cross-correlation), the naive loop version.

    X: (N, C_in, H, W) or unbatched (C_in, H, W); W: (C_out, C_in, kh, kw);
    b: (C_out,) or None; stride, padding: int or (h, w)
    -> (N, C_out, H', W') (or (C_out, H', W')), with
        H' = floor((H + 2ph - kh) / sh) + 1,  W' likewise, and
        Y[n, o, i, j] = b[o] + sum_{c, a, e} Xp[n, c, i*sh + a, j*sw + e] * W[o, c, a, e]
    where Xp is X zero-padded. Equal to F.conv2d(X, W, b, stride, padding).

    Example: X = torch.randn(8, 3, 64, 64), W = torch.randn(10, 3, 6, 6),
    conv2d(X, W, stride=2, padding=1).shape == (8, 10, 31, 31).
    """
    X, unbatched, (sh, sw), (ph, pw) = _conv2d_args(X, W, b, stride, padding)
    N, C_in, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    Xp = pad2d(X, (ph, pw))
    Ho, Wo = out_size(H, kh, ph, sh), out_size(Wd, kw, pw, sw)
    Y = X.new_zeros(N, C_out, Ho, Wo)
    # One output value at a time: image n, filter o, position (i, j). Slow on
    # purpose; chapter 4 makes it one matrix product.
    for n in range(N):
        for o in range(C_out):
            for i in range(Ho):
                for j in range(Wo):
                    window = Xp[n, :, i * sh:i * sh + kh, j * sw:j * sw + kw]   # (C_in, kh, kw)
                    Y[n, o, i, j] = (window * W[o]).sum()
    if b is not None:
        Y = Y + b.view(1, C_out, 1, 1)
    return Y[0] if unbatched else Y
