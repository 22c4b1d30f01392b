"""Chapter 4 (im2col: convolution as one matrix multiply): what its test cells share.

    from helpers.exercises import im2col as ex
    ex.check_im2col(im2col, X, 3, s=2, p=1, expected=F.unfold(X, 3, padding=1, stride=2))

Presets (for `check.forbid`):
    NO_IM2COL     for im2col: the kernels im2col, col2im, conv2d_im2col, conv2d, corr2d,
                  corr2d_multi_in, corr2d_multi_in_out; F.unfold, Tensor.unfold,
                  torch._C._nn.im2col, F.conv1d/2d/3d, torch.conv1d/2d/3d, torch.convolution
    NO_COL2IM     for col2im: the kernels col2im, im2col, conv2d_im2col, conv_transpose2d;
                  F.fold, torch._C._nn.col2im, F.unfold, Tensor.unfold, torch._C._nn.im2col,
                  F.conv_transpose2d, torch.conv_transpose2d, F.conv2d, torch.conv2d
    NO_CONV       for conv2d_im2col: the kernels conv2d_im2col, conv2d, im2col, col2im, corr2d,
                  corr2d_multi_in, corr2d_multi_in_out; F.conv1d/2d/3d, torch.conv1d/2d/3d,
                  torch.convolution, torch._convolution, F.conv_transpose2d,
                  torch.conv_transpose2d, F.unfold, Tensor.unfold, torch._C._nn.im2col
                  (the student's own im2col stays allowed)

A mistake the test of col2im names on columns of ones:
    NOT_ADDED     overlapping values overwritten or averaged instead of added

Small tools:
    pair(v)                    an int or a pair as a pair: pair(3) == (3, 3)
    pick(g, lo, hi)            a random int in lo..hi (both included) from the torch.Generator g
    real_nbytes(shape, f, s=1, p=0, dtype=torch.float32)
                               the bytes of the real X_col (F.unfold's output) for an input of `shape`
    im2col_first(im2col, X, W, stride, padding)
                               a context manager: when a conv2d_im2col test fails and the
                               student's im2col is wrong for the same input, say so

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    im2col_mistakes(X, f, s=1, p=0)
    col2im_mistakes(cols, size, f, s=1, p=0)
    conv2d_im2col_mistakes(X, W, b=None, stride=1, padding=0)
    im2col_nbytes_mistakes(shape, f, s=1, p=0, dtype=torch.float32)

Checks, one case each. The student's function comes first; the arguments after the
fixed ones are passed to it as they are (so `ex.check_im2col(im2col, X, 5, s=2, ...)`
calls `im2col(X, 5, s=2)`), inside `check.forbid(preset)`; the result is compared
with `expected`, naming the usual mistakes, then the tensor inputs must be unchanged:
    check_im2col(im2col, X, *args, expected, shape=None, name=None, **kwargs)
        exact comparison: im2col copies values
    check_col2im(col2im, cols, *args, expected, mistakes=None, name=None, rtol=1e-5, atol=1e-6,
                 **kwargs) -> the student's output
    check_adjoint(x, cols, out, f, s=1, p=0, name=..., rtol=1e-5, atol=1e-6)
        <im2col(x), cols> = <x, out>, with F.unfold as im2col (no student call)
    check_conv2d_im2col(conv2d_im2col, im2col, X, W, *args, expected, name=None, **kwargs)
        tolerance 1e-4 in float32, 1e-10 in float64
    check_im2col_nbytes(im2col_nbytes, shape, *args, expected, name=None, **kwargs)
        exact int, no tensor input
"""
import contextlib

import torch
import torch.nn.functional as F

from helpers import check
from helpers.exercises import pair, pick

__all__ = [
    "NO_IM2COL", "NO_COL2IM", "NO_CONV", "NOT_ADDED",
    "pair", "pick", "real_nbytes", "im2col_first",
    "im2col_mistakes", "col2im_mistakes", "conv2d_im2col_mistakes", "im2col_nbytes_mistakes",
    "check_im2col", "check_col2im", "check_adjoint", "check_conv2d_im2col", "check_im2col_nbytes",
]

# ---------------------------------------------------------------- presets

NO_IM2COL = ("im2col", "col2im", "conv2d_im2col", "conv2d", "corr2d", "corr2d_multi_in",
             "corr2d_multi_in_out", F.unfold, torch.Tensor.unfold, torch._C._nn.im2col,
             F.conv2d, torch.conv2d, F.conv1d, torch.conv1d, F.conv3d, torch.conv3d,
             torch.convolution)
NO_COL2IM = ("col2im", "im2col", "conv2d_im2col", "conv_transpose2d", F.fold, torch._C._nn.col2im,
             F.unfold, torch.Tensor.unfold, torch._C._nn.im2col, F.conv_transpose2d,
             torch.conv_transpose2d, F.conv2d, torch.conv2d)
NO_CONV = ("conv2d_im2col", "conv2d", "im2col", "col2im", "corr2d", "corr2d_multi_in",
           "corr2d_multi_in_out", F.conv2d, torch.conv2d, F.conv1d, torch.conv1d, F.conv3d,
           torch.conv3d, torch.convolution, torch._convolution, F.conv_transpose2d,
           torch.conv_transpose2d, F.unfold, torch.Tensor.unfold, torch._C._nn.im2col)

NOT_ADDED = ("overlapping values are overwritten or averaged instead of added: each pixel "
             "gets the sum of all its copies (+=, not =)")


# ---------------------------------------------------------------- small tools

def _im2col_args(f, s=1, p=0):
    """(f, s, p) of a call im2col(X, *args, **kwargs), with the defaults."""
    return f, s, p


def _col2im_args(input_size, f, s=1, p=0):
    """(input_size, f, s, p) of a call col2im(cols, *args, **kwargs), with the defaults."""
    return input_size, f, s, p


def _conv_args(b=None, stride=1, padding=0):
    """(b, stride, padding) of a call conv2d_im2col(X, W, *args, **kwargs), with the defaults."""
    return b, stride, padding


def _nbytes_args(f, s=1, p=0, dtype=torch.float32):
    """(f, s, p, dtype) of a call im2col_nbytes(shape, *args, **kwargs), with the defaults."""
    return f, s, p, dtype


def _call(function_name, first, args, kwargs):
    """How a message shows a call: im2col(X, 5, s=2). A tensor argument shows as b (the bias)."""
    def shown(value):
        return "b" if torch.is_tensor(value) else repr(value)
    parts = [first] + [shown(a) for a in args] + [f"{key}={shown(value)}" for key, value in kwargs.items()]
    return f"{function_name}({', '.join(parts)})"


def _dtype(t):
    return str(t.dtype).replace("torch.", "")


def _unchanged(after, before, what, call):
    """Check that the input `what` of `call` still holds `before` (exactly)."""
    check.close(after, before, name=f"{what} after {call} (your function must not change its inputs)",
                rtol=0, atol=0)


def real_nbytes(shape, f, s=1, p=0, dtype=torch.float32):
    """Bytes of the real X_col: numel() * element_size() of F.unfold's output.

    shape: (N, C, H, W) of the input; f, s, p: ints or pairs; dtype: a torch dtype.
    Returns an int (F.unfold runs on one zero channel only: H' * W' windows).
    """
    N, C, H, W = shape
    L = F.unfold(torch.zeros(1, 1, H, W), f, padding=p, stride=s).shape[-1]   # H' * W'
    kh, kw = pair(f)
    return N * C * kh * kw * L * torch.empty(0, dtype=dtype).element_size()


@contextlib.contextmanager
def im2col_first(im2col, X, W, stride, padding):
    """When a conv2d_im2col test fails and the student's im2col is wrong for the same input, say where to start.

    im2col: the student's im2col. X, W, stride, padding: the conv2d_im2col case.
    A failure inside the block (not a forbidden call) is re-raised as a CheckFailure with a
    note "make Exercise 1 pass first" when im2col(X, (kh, kw), stride, padding) is not
    F.unfold's result; otherwise it goes on unchanged.
    """
    try:
        yield
    except check.ForbiddenCall:
        raise
    except Exception as error:
        f = tuple(W.shape[2:])
        expected_cols = F.unfold(X, f, padding=padding, stride=stride)
        try:
            with check.forbid(NO_CONV):
                cols = im2col(X, f, stride, padding)
            check.close(cols, expected_cols)
        except Exception:
            what = error if isinstance(error, check.CheckFailure) else \
                f"conv2d_im2col raised {type(error).__name__}: {error}"
            raise check.CheckFailure(
                f"{what}\n  Note: conv2d_im2col builds on your im2col, and im2col{(tuple(X.shape), f)} "
                f"is not right yet either: make Exercise 1 pass first.") from None
        raise


# ---------------------------------------------------------------- mistakes

_ROWS = ("the rows of each column follow the filter's order: channel, then kernel row, then kernel column "
         "(row c*kh*kw + i*kw + j)")


def im2col_mistakes(X, f, s=1, p=0):
    """The usual mistakes of im2col(X, f, s, p) and what each gives here.

    X: (N, C, H, W); f, s, p: ints or (h, w) pairs.
    Returns {description: wrong X_col}, built from F.unfold's right one: rows in (kh, kw, C)
    or (C, kw, kh) order, windows taken column by column, the output transposed, and
    (when p is not 0) the padding missing.
    """
    (kh, kw), (sh, sw), (ph, pw) = pair(f), pair(s), pair(p)
    expected = F.unfold(X, (kh, kw), padding=(ph, pw), stride=(sh, sw))
    N, K, L = expected.shape
    C = K // (kh * kw)
    Ho = (X.shape[2] + 2 * ph - kh) // sh + 1
    Wo = L // Ho
    cells = expected.reshape(N, C, kh, kw, L)
    wrong = {
        "rows in (kh, kw, C) order (channel last); " + _ROWS:
            cells.permute(0, 2, 3, 1, 4).reshape(N, K, L),
        "rows in (C, kw, kh) order (kernel column before kernel row); " + _ROWS:
            cells.transpose(2, 3).reshape(N, K, L),
        "windows taken column by column; the columns of X_col list the windows row by row, as you read (column y*W' + x)":
            expected.reshape(N, K, Ho, Wo).transpose(2, 3).reshape(N, K, L),
        "the output is transposed: each window must be a column, (N, C*kh*kw, H'W'), not a row, (N, H'W', C*kh*kw)":
            expected.transpose(1, 2),
    }
    if (ph, pw) != (0, 0):
        wrong["the padding is missing: pad X with p zeros on each side before cutting out the windows"] = \
            F.unfold(X, (kh, kw), stride=(sh, sw))
    return wrong


def col2im_mistakes(cols, size, f, s=1, p=0):
    """The usual mistakes of col2im(cols, size, f, s, p) and what each gives here.

    cols: (N, C*kh*kw, L); size: (H, W) or an int; f, s, p: ints or (h, w) pairs.
    Returns {description: wrong image}: overlaps overwritten (the last kernel cell or the
    last window wins), overlaps averaged, rows read in (kh, kw, C) order, and (when p is
    not 0) the padding not cut off.
    """
    (H, W), (kh, kw), (sh, sw), (ph, pw) = pair(size), pair(f), pair(s), pair(p)
    N, K, L = cols.shape
    C = K // (kh * kw)
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1

    def fold(z):
        return F.fold(z, (H, W), (kh, kw), padding=(ph, pw), stride=(sh, sw))

    Z = cols.reshape(N, C, kh, kw, Ho, Wo)
    last_cell = cols.new_zeros(N, C, H + 2 * ph, W + 2 * pw)      # = instead of +=, loop over (i, j)
    last_window = last_cell.clone()                               # = instead of +=, loop over windows
    for i in range(kh):
        for j in range(kw):
            last_cell[:, :, i:i + sh * (Ho - 1) + 1:sh, j:j + sw * (Wo - 1) + 1:sw] = Z[:, :, i, j]
    for y in range(Ho):
        for x in range(Wo):
            last_window[:, :, y * sh:y * sh + kh, x * sw:x * sw + kw] = Z[..., y, x]
    counts = fold(F.unfold(torch.ones(1, 1, H, W, dtype=cols.dtype), (kh, kw),
                           padding=(ph, pw), stride=(sh, sw)))
    wrong = {
        "overlapping values are overwritten instead of added (the last kernel cell wins): use +=, not =":
            last_cell[:, :, ph:ph + H, pw:pw + W],
        "overlapping values are overwritten instead of added (the last window wins): use +=, not =":
            last_window[:, :, ph:ph + H, pw:pw + W],
        "overlapping values are averaged instead of added: col2im sums all the copies of a pixel":
            fold(cols) / counts.clamp(min=1),
        "the rows of cols are read in (kh, kw, C) order; im2col's rows are ordered (C, kh, kw)":
            fold(cols.reshape(N, kh, kw, C, L).permute(0, 3, 1, 2, 4).reshape(N, K, L)),
    }
    if (ph, pw) != (0, 0):
        wrong["the padding is still there: cut p rows and columns off each side at the end"] = \
            F.fold(cols, (H + 2 * ph, W + 2 * pw), (kh, kw), stride=(sh, sw))
    return wrong


def conv2d_im2col_mistakes(X, W, b=None, stride=1, padding=0):
    """The usual mistakes of conv2d_im2col(X, W, b, stride, padding) and what each gives here.

    X: (N, C, H, W); W: (C_out, C, kh, kw); b: (C_out,) or None; stride, padding: ints or pairs.
    Returns {description: wrong output}, built from F.conv2d's right one: the bias missing
    (when b is given), filters flattened channel last, batch and channel axes mixed up,
    the output left as (N, C_out, H'W'), reshaped to (W', H'), or its grid transposed.
    """
    expected = F.conv2d(X, W, b, stride, padding)
    N, C_out, Ho, Wo = expected.shape
    wrong = {}
    if b is not None:
        wrong["the bias is missing: add b[o] to every value of output channel o"] = \
            F.conv2d(X, W, None, stride, padding)
    wrong.update({
        "the filters are flattened in another order than the rows of X_col: W.reshape(C_out, -1) matches im2col's (C, kh, kw) order":
            F.conv2d(X, W.permute(0, 2, 3, 1).reshape(W.shape), b, stride, padding),
        "the batch and channel axes are mixed up: a (C_out, N*H'W') product must become (C_out, N, H', W') and then be permuted to (N, C_out, H', W')":
            expected.permute(1, 0, 2, 3).reshape(N, C_out, Ho, Wo),
        "the result is still (N, C_out, H'W'): reshape it to (N, C_out, H', W')":
            expected.reshape(N, C_out, Ho * Wo),
        "H' and W' are swapped: the windows go row by row, so reshape to (N, C_out, H', W'), not (W', H')":
            expected.reshape(N, C_out, Wo, Ho),
        "the output grid is transposed (H' and W' swapped): window y*W' + x is output position (y, x); check the order of the columns of X_col":
            expected.transpose(2, 3),
    })
    return wrong


def im2col_nbytes_mistakes(shape, f, s=1, p=0, dtype=torch.float32):
    """The usual mistakes of im2col_nbytes(shape, f, s, p, dtype) and the count each gives.

    shape: (N, C, H, W); f, s, p: ints or pairs; dtype: a torch dtype.
    Returns {description: wrong int}: values instead of bytes, the input's size, bits, the
    + 1 missing, and (N > 1) the batch missing, (p not 0) the padding missing.
    """
    N, C, H, W = shape
    (kh, kw), (sh, sw), (ph, pw) = pair(f), pair(s), pair(p)
    size = torch.empty(0, dtype=dtype).element_size()
    right = real_nbytes(shape, f, s, p, dtype)
    wrong = {
        "you counted the values, not the bytes: multiply by dtype.itemsize, the bytes per value":
            right // size,
        "that is the size of the input X, not of X_col: each window has its own copy of its C*kh*kw values":
            N * C * H * W * size,
        "that is in bits, not bytes: dtype.itemsize is already in bytes":
            right * 8,
        "the + 1 is missing: there are (H + 2p - kh) // s + 1 windows per column of the image":
            N * C * kh * kw * ((H + 2 * ph - kh) // sh) * ((W + 2 * pw - kw) // sw) * size,
    }
    if N > 1:
        wrong["the batch is missing: X_col holds the columns of all N images"] = right // N
    if (ph, pw) != (0, 0):
        wrong["the padding is missing from H' and W': H' = (H + 2p - kh) // s + 1"] = \
            N * C * kh * kw * ((H - kh) // sh + 1) * ((W - kw) // sw + 1) * size
    return wrong


# ---------------------------------------------------------------- checks

def check_im2col(im2col, X, *args, expected, shape=None, name=None, **kwargs):
    """Run one case of im2col: im2col(X, *args, **kwargs).

    im2col: the student's function. X: (N, C, H, W) tensor. args, kwargs: f, s, p as the
    call passes them. expected: the right X_col. shape: if given, the output's shape is
    checked first. name: how messages call the result (default: the call and X).
    Calls it with NO_IM2COL switched off, compares exactly (im2col copies values), naming
    the usual mistakes, then checks that X is unchanged. Returns None.
    """
    call = _call("im2col", "X", args, kwargs)
    name = name or f"{call} for X of shape {tuple(X.shape)}, {_dtype(X)}"
    X0, mistakes = X.clone(), im2col_mistakes(X, *_im2col_args(*args, **kwargs))
    with check.forbid(NO_IM2COL):
        out = im2col(X, *args, **kwargs)
    if shape is not None:
        check.shape(out, shape, name=name)
    check.close(out, expected, name=name, mistakes=mistakes, rtol=0, atol=0)
    _unchanged(X, X0, "X", call)


def check_col2im(col2im, cols, *args, expected, mistakes=None, name=None, rtol=1e-5, atol=1e-6, **kwargs):
    """Run one case of col2im: col2im(cols, *args, **kwargs).

    col2im: the student's function. cols: (N, C*kh*kw, L) tensor. args, kwargs: input_size,
    f, s, p as the call passes them. expected: the right image. mistakes: {description:
    wrong image} (default: col2im_mistakes for this case). name: how messages call the
    result (default: the call and cols). rtol, atol: the tolerance of the comparison.
    Calls it with NO_COL2IM switched off, compares, then checks that cols is unchanged.
    Returns the student's output.
    """
    call = _call("col2im", "cols", args, kwargs)
    name = name or f"{call} for cols of shape {tuple(cols.shape)}, {_dtype(cols)}"
    if mistakes is None:
        mistakes = col2im_mistakes(cols, *_col2im_args(*args, **kwargs))
    cols0 = cols.clone()
    with check.forbid(NO_COL2IM):
        out = col2im(cols, *args, **kwargs)
    check.close(out, expected, name=name, mistakes=mistakes, rtol=rtol, atol=atol)
    _unchanged(cols, cols0, "cols", call)
    return out


def check_adjoint(x, cols, out, f, s=1, p=0, name="<x, col2im(Z)>, which must equal <im2col(x), Z>",
                  rtol=1e-5, atol=1e-6):
    """Check the adjoint identity <im2col(x), Z> = <x, col2im(Z)>, with F.unfold as im2col.

    x: (N, C, H, W); cols: Z, (N, C*kh*kw, L); out: the student's col2im(Z, (H, W), f, s, p).
    f, s, p: ints or pairs. name: how messages call <x, out>. rtol, atol: the tolerance.
    Names the col2im mistakes whose image gives the same inner product. Returns None.
    """
    left = (F.unfold(x, f, padding=p, stride=s) * cols).sum().item()
    right = (x * out).sum().item()
    mistakes = {why: (x * wrong).sum().item()
                for why, wrong in col2im_mistakes(cols, tuple(x.shape[-2:]), f, s, p).items()
                if wrong.shape == x.shape}
    check.close(right, left, name=name, mistakes=mistakes, rtol=rtol, atol=atol)


def check_conv2d_im2col(conv2d_im2col, im2col, X, W, *args, expected, name=None, **kwargs):
    """Run one case of conv2d_im2col: conv2d_im2col(X, W, *args, **kwargs).

    conv2d_im2col, im2col: the student's functions (im2col only for the note of
    im2col_first). X: (N, C, H, W), W: (C_out, C, kh, kw) tensors. args, kwargs: b, stride,
    padding as the call passes them. expected: the right output. name: how messages call
    the result (default: the call and the shapes).
    Calls it with NO_CONV switched off, compares (rtol = atol = 1e-4 in float32, 1e-10 in
    float64), naming the usual mistakes and, on a failure, whether im2col is wrong too;
    then checks that X and W are unchanged. Returns None.
    """
    b, stride, padding = _conv_args(*args, **kwargs)
    call = _call("conv2d_im2col", "X, W", args, kwargs)
    name = name or (f"{call} for X {tuple(X.shape)}, W {tuple(W.shape)}, "
                    f"b {'None' if b is None else tuple(b.shape)}, {_dtype(X)}")
    tol = 1e-4 if X.dtype == torch.float32 else 1e-10
    X0, W0, mistakes = X.clone(), W.clone(), conv2d_im2col_mistakes(X, W, b, stride, padding)
    with im2col_first(im2col, X, W, stride, padding):
        with check.forbid(NO_CONV):
            out = conv2d_im2col(X, W, *args, **kwargs)
        check.close(out, expected, name=name, mistakes=mistakes, rtol=tol, atol=tol)
    _unchanged(X, X0, "X", call)
    _unchanged(W, W0, "W", call)


def check_im2col_nbytes(im2col_nbytes, shape, *args, expected, name=None, **kwargs):
    """Run one case of im2col_nbytes: im2col_nbytes(shape, *args, **kwargs).

    im2col_nbytes: the student's function. shape: (N, C, H, W). args, kwargs: f, s, p, dtype
    as the call passes them. expected: the right number of bytes (an int). name: how
    messages call the result (default: the call).
    Checks the int exactly, naming the usual mistakes. Returns None.
    """
    name = name or _call("im2col_nbytes", repr(shape), args, kwargs)
    mistakes = im2col_nbytes_mistakes(shape, *_nbytes_args(*args, **kwargs))
    check.equal(im2col_nbytes(shape, *args, **kwargs), expected, name=name, mistakes=mistakes)
