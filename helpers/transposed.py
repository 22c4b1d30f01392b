"""Reference kernels for chapter 5: transposed convolution.

A stride-1 valid convolution is a linear map, so it has a matrix C
(conv_matrix). Its transpose C.T maps the small output back to the large
input's shape: that is transposed convolution. Two ways to compute it without
building C:

- scatter-add (conv_transpose2d): every input value, times the kernel, is
  added into the output window it "came from"; then `padding` rows/columns
  are cropped from each side.
- zero insertion (conv_transpose2d_zero_insert): insert s - 1 zeros between
  input values, pad with f - 1 - p zeros, and cross-correlate with the kernel
  rotated by 180 degrees.

Output size per axis: (m - 1) * s - 2p + f (+ output_padding).

Weights follow F.conv_transpose2d: K is (C_in, C_out, kh, kw), input channels
first (the transpose of conv2d's (C_out, C_in, kh, kw)).
"""
import torch

from helpers._args import int_arg, numpy_io, pair_arg, same_dtype, tensor_arg
from helpers._guard import reference
from helpers.conv import pad2d
from helpers.columns import conv2d_im2col

__all__ = ["conv_matrix", "conv_transpose2d", "conv_transpose2d_zero_insert",
           "conv_transpose_output_size"]


@reference
@numpy_io
def conv_matrix(K, n):
    """The matrix C of a stride-1 valid cross-correlation with K.

    K: (kh, kw); n: input size, int (square) or (h, w)
    -> C: ((h - kh + 1) * (w - kw + 1), h * w), same dtype as K, with
        C @ x.flatten() == corr2d(x, K).flatten()   for every x of shape (h, w)
    Row i * W' + j holds K at the cells of window (i, j) of the flattened
    input, zeros elsewhere.

    >>> conv_matrix(torch.ones(3, 3), 4).shape     # 3x3 kernel on a 4x4 input
    torch.Size([4, 16])
    """
    tensor_arg(K, "K", {2: "(kh, kw)"})
    h, w = pair_arg(n, "n", 1)
    kh, kw = K.shape
    if kh > h or kw > w:
        raise ValueError(f"n = {(h, w)} is smaller than the kernel K {(kh, kw)}")
    Ho, Wo = h - kh + 1, w - kw + 1
    C = K.new_zeros(Ho * Wo, h * w)
    for i in range(Ho):
        for j in range(Wo):
            C[i * Wo + j].view(h, w)[i:i + kh, j:j + kw] = K
    return C


def _transposed_args(X, K, stride, padding):
    """Checks shared by both conv_transpose2d versions.

    Returns X as (N, C_in, H, W), K as (C_in, C_out, kh, kw), how to reshape
    the result back ("2d", "3d" or "4d"), stride, padding and output size.
    """
    tensor_arg(X, "X", {4: "(N, C_in, H, W)", 3: "(C_in, H, W)", 2: "(H, W)"})
    if X.dim() == 2:
        tensor_arg(K, "K", {2: "(kh, kw) (X is a single-channel (H, W) image)"})
    else:
        tensor_arg(K, "K", {4: "(C_in, C_out, kh, kw)"})
    same_dtype(X=X, K=K)
    kind = f"{X.dim()}d"
    if kind == "2d":
        X, K = X[None, None], K[None, None]
    elif kind == "3d":
        X = X[None]
    if X.shape[1] != K.shape[0]:
        raise ValueError(
            f"K must be (C_in, C_out, kh, kw) with C_in = {X.shape[1]} like X; got K of "
            f"shape {tuple(K.shape)} (note: transposed convolution puts C_in first)"
        )
    sh, sw = pair_arg(stride, "stride", 1)
    ph, pw = pair_arg(padding, "padding", 0)
    H, W = X.shape[2:]
    kh, kw = K.shape[2:]
    Ho, Wo = (H - 1) * sh - 2 * ph + kh, (W - 1) * sw - 2 * pw + kw
    if Ho < 1 or Wo < 1:
        raise ValueError(
            f"padding {(ph, pw)} is too large: the output size (H - 1) * s - 2p + k "
            f"would be {(Ho, Wo)}; it must be at least 1 on each axis"
        )
    return X, K, kind, (sh, sw), (ph, pw), (Ho, Wo)


def _unbatch(Y, kind):
    return Y[0, 0] if kind == "2d" else Y[0] if kind == "3d" else Y


@reference
@numpy_io
def conv_transpose2d(X, K, stride=1, padding=0):
    """Transposed convolution by scatter-add.

    X: (N, C_in, H, W) with K: (C_in, C_out, kh, kw) -> (N, C_out, H', W'),
    exactly F.conv_transpose2d(X, K, stride=stride, padding=padding)
    (also unbatched (C_in, H, W) -> (C_out, H', W')); or the single-channel
    teaching case X: (H, W) with K: (kh, kw) -> (H', W').
    H' = (H - 1) * sh - 2 ph + kh, W' likewise. For every input cell (i, j):
        full[:, :, i*sh : i*sh + kh, j*sw : j*sw + kw] += sum_c X[:, c, i, j] * K[c]
    then `padding` rows / columns are cropped from each side of `full`.

    >>> conv_transpose2d(torch.tensor([[0., 1], [2, 3]]), torch.tensor([[0., 1], [2, 3]]))
    tensor([[ 0.,  0.,  1.],
            [ 0.,  4.,  6.],
            [ 4., 12.,  9.]])
    """
    X, K, kind, (sh, sw), (ph, pw), (Ho, Wo) = _transposed_args(X, K, stride, padding)
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    full = X.new_zeros(N, C_out, (H - 1) * sh + kh, (W - 1) * sw + kw)
    for i in range(H):
        for j in range(W):
            # (N, C_in) values times (C_in, C_out, kh, kw) kernels, summed over C_in
            contribution = torch.tensordot(X[:, :, i, j], K, dims=1)   # (N, C_out, kh, kw)
            full[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += contribution
    Y = full[:, :, ph:ph + Ho, pw:pw + Wo]
    return _unbatch(Y, kind)


@reference
@numpy_io
def conv_transpose2d_zero_insert(X, K, stride=1, padding=0):
    """Transposed convolution as an ordinary convolution of a stretched input.

    Same contract as conv_transpose2d. Three steps:
      1. insert s - 1 zeros between neighbouring input values (per axis),
      2. pad with f - 1 - p zeros on each side (crop if that is negative),
      3. cross-correlate, stride 1, with the kernel rotated by 180 degrees
         (and its C_in / C_out axes swapped into conv2d's order).

    Example: a 2x2 input, 3x3 kernel, stride 2: step 1 gives 3x3, step 2
    (pad 2) gives 7x7, step 3 gives 5x5 = (2 - 1) * 2 + 3.
    """
    X, K, kind, (sh, sw), (ph, pw), _ = _transposed_args(X, K, stride, padding)
    N, C_in, H, W = X.shape
    _, C_out, kh, kw = K.shape
    # 1. zero insertion
    Z = X.new_zeros(N, C_in, (H - 1) * sh + 1, (W - 1) * sw + 1)
    Z[:, :, ::sh, ::sw] = X
    # 2. pad by f - 1 - p on each side; a negative amount crops instead
    qh, qw = kh - 1 - ph, kw - 1 - pw
    Z = pad2d(Z, (max(qh, 0), max(qw, 0)))
    Z = Z[:, :, max(-qh, 0):Z.shape[2] - max(-qh, 0), max(-qw, 0):Z.shape[3] - max(-qw, 0)]
    # 3. rotate the kernel by 180 degrees, (C_in, C_out) -> (C_out, C_in), correlate
    W_conv = K.flip(2, 3).transpose(0, 1)
    Y = conv2d_im2col(Z, W_conv)
    return _unbatch(Y, kind)


@reference
def conv_transpose_output_size(m, f, s=1, p=0, output_padding=0):
    """Output length along one axis of a transposed convolution.

        (m - 1) * s - 2p + f + output_padding

    m: input size, f: kernel size, s: stride, p: padding, output_padding:
    extra cells on one side (0 <= output_padding < s), as nn.ConvTranspose2d.
    ValueError, naming the argument, on impossible settings.

    >>> conv_transpose_output_size(5, 4, s=1, p=0)     # 5x5 input, k4 s1 p0 -> 8x8
    8
    >>> conv_transpose_output_size(2, 3, s=2, p=1)     # 2x2 input, k3 s2 p1 -> 3x3
    3
    """
    m = int_arg(m, "m", 1)
    f = int_arg(f, "f", 1)
    s = int_arg(s, "s", 1)
    p = int_arg(p, "p", 0)
    output_padding = int_arg(output_padding, "output_padding", 0)
    if output_padding >= s:
        raise ValueError(
            f"output_padding must be smaller than the stride s = {s}; got {output_padding}"
        )
    size = (m - 1) * s - 2 * p + f + output_padding
    if size < 1:
        raise ValueError(
            f"p = {p} is too large: (m - 1) * s - 2p + f + output_padding = {size}; "
            f"the output must be at least 1"
        )
    return size
