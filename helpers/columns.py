"""Reference kernels for chapter 4: convolution as one matrix multiply.

im2col stretches every receptive field (window) of the padded input into a
column; the filters, flattened, are the rows of a matrix; one matrix product
then computes every output value at once. This chapter is about speed, so the
kernels here are vectorised (no Python loop over positions).

Orders, exactly as F.unfold: the row index of a column is
c * kh * kw + a * kw + e (channel, then kernel row, then kernel column), and
the column index is i * W' + j (output positions in row-major order).
"""
import torch

from helpers._args import check_fits, numpy_io, out_size, pair_arg, tensor_arg
from helpers._guard import reference
from helpers.conv import _conv2d_args, pad2d

__all__ = ["im2col", "col2im", "conv2d_im2col"]


@reference
@numpy_io
def im2col(X, f, s=1, p=0):
    """Every (padded) window of X as one column.

    X: (N, C, H, W) (or (C, H, W)); f, s, p: int or (h, w)
    -> (N, C * kh * kw, L) (or (C * kh * kw, L)), L = H' * W' window positions,
        out[n, c*kh*kw + a*kw + e, i*W' + j] = Xp[n, c, i*sh + a, j*sw + e]
    Xp is X zero-padded by p. Same as F.unfold(X, f, padding=p, stride=s).

    Example: X (1, 10, 37, 37), f = 5, s = 2 -> (1, 250, 289), since
    (37 - 5) // 2 + 1 = 17 and 17 * 17 = 289.
    """
    tensor_arg(X, "X", {4: "(N, C, H, W)", 3: "(C, H, W)"})
    kh, kw = pair_arg(f, "f", 1)
    sh, sw = pair_arg(s, "s", 1)
    ph, pw = pair_arg(p, "p", 0)
    H, W = X.shape[-2:]
    check_fits((kh, kw), (H, W), (ph, pw), "f", "X")
    Xp = pad2d(X, (ph, pw)) if ph or pw else X
    batched = X.dim() == 4
    if not batched:
        Xp = Xp.unsqueeze(0)
    N, C = Xp.shape[:2]
    # Tensor.unfold(dim, size, step) is a view of all windows along one axis (no copy):
    windows = Xp.unfold(2, kh, sh).unfold(3, kw, sw)       # (N, C, H', W', kh, kw)
    # put (C, kh, kw) first and the positions (H', W') last, then copy once
    cols = windows.permute(0, 1, 4, 5, 2, 3).reshape(N, C * kh * kw, -1)
    return cols if batched else cols[0]


@reference
@numpy_io
def col2im(cols, input_size, f, s=1, p=0):
    """Put columns back into an image, adding up the values where windows overlap.

    cols: (N, C * kh * kw, L) (or (C * kh * kw, L)); input_size: (H, W) of
    the unpadded image (or an int); f, s, p as in im2col -> (N, C, H, W).
    Same as F.fold(cols, input_size, f, padding=p, stride=s). It is the
    adjoint of im2col: <im2col(x), y> == <x, col2im(y)> (sums of products),
    so col2im(im2col(x)) counts how many windows cover each pixel, times x.

    Example: col2im(im2col(torch.ones(1, 1, 3, 3), 2), 3, 2)
    -> [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]
    """
    tensor_arg(cols, "cols", {3: "(N, C*kh*kw, L)", 2: "(C*kh*kw, L)"})
    H, W = pair_arg(input_size, "input_size", 1)
    kh, kw = pair_arg(f, "f", 1)
    sh, sw = pair_arg(s, "s", 1)
    ph, pw = pair_arg(p, "p", 0)
    check_fits((kh, kw), (H, W), (ph, pw), "f", "input_size")
    Ho, Wo = out_size(H, kh, ph, sh), out_size(W, kw, pw, sw)
    K, L = cols.shape[-2:]
    if K % (kh * kw) != 0 or L != Ho * Wo:
        raise ValueError(
            f"cols must be (N, C*kh*kw, L) with kh*kw = {kh * kw} dividing the rows and "
            f"L = H'*W' = {Ho}*{Wo} = {Ho * Wo} window positions for input_size {(H, W)}, "
            f"f {(kh, kw)}, s {(sh, sw)}, p {(ph, pw)}; got shape {tuple(cols.shape)}"
        )
    batch = cols.shape[:-2]
    C = K // (kh * kw)
    cols = cols.reshape(*batch, C, kh, kw, Ho, Wo)
    out = cols.new_zeros(*batch, C, H + 2 * ph, W + 2 * pw)
    # one strided slab per kernel cell (kh * kw adds, each over all positions at once)
    for a in range(kh):
        for e in range(kw):
            out[..., a:a + sh * Ho:sh, e:e + sw * Wo:sw] += cols[..., a, e, :, :]
    return out[..., ph:ph + H, pw:pw + W]


@reference
@numpy_io
def conv2d_im2col(X, W, b=None, stride=1, padding=0):
    """2-D convolution as im2col + one matrix multiply + reshape.

    Same contract as conv2d: X (N, C_in, H, W) or (C_in, H, W), W (C_out,
    C_in, kh, kw), b (C_out,) or None, stride/padding int or (h, w)
    -> (N, C_out, H', W'). Equal to F.conv2d(X, W, b, stride, padding).

        X_col = im2col(X)                    (N, C_in*kh*kw, H'*W')
        W_row = W.reshape(C_out, -1)         (C_out, C_in*kh*kw)
        Y = W_row @ X_col  (+ b)             (N, C_out, H'*W') -> (N, C_out, H', W')

    Example: X (64, 10, 37, 37), twenty 5x5 filters, stride 2: X_col is
    (64, 250, 289), W_row (20, 250), Y (64, 20, 17, 17).
    """
    X, unbatched, (sh, sw), (ph, pw) = _conv2d_args(X, W, b, stride, padding)
    N, _, H, Wd = X.shape
    C_out, _, kh, kw = W.shape
    Ho, Wo = out_size(H, kh, ph, sh), out_size(Wd, kw, pw, sw)
    X_col = im2col(X, (kh, kw), (sh, sw), (ph, pw))     # (N, C_in*kh*kw, L)
    W_row = W.reshape(C_out, -1)                            # (C_out, C_in*kh*kw)
    if b is None:
        Y = W_row @ X_col                                   # (N, C_out, L)
    else:
        # b + W_row @ X_col in one call (the bias add is fused into the product)
        Y = torch.baddbmm(b.view(1, C_out, 1), W_row.expand(N, -1, -1), X_col)
    Y = Y.view(N, C_out, Ho, Wo)
    return Y[0] if unbatched else Y
