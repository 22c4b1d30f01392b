"""Chapter 3 (pooling): what its test cells share.

    from helpers.exercises import pooling as ex
    ex.check_max_pool2d(max_pool2d, X, (1, 3), s=1, expected=torch.tensor([[[[9., 9, 3]]]]))

Presets (for `check.forbid`):
    NO_POOLING            for max_pool2d and avg_pool2d: every callable of torch,
                          torch.nn.functional and torch._C._nn whose name says pool
                          (F.max_pool2d, torch.max_pool2d, F.avg_pool2d, ...), the aten
                          operators max_pool2d, max_pool2d_with_indices, avg_pool2d with every
                          overload, F.unfold, Tensor.unfold, and the kernels max_pool2d,
                          avg_pool2d, max_pool2d_backward, im2col
    NO_POOLING_BACKWARD   for max_pool2d_backward: the same pooling functions, the aten operators
                          max_pool2d, max_pool2d_with_indices, max_pool2d_with_indices_backward
                          with every overload, F.unfold, Tensor.unfold, autograd
                          (torch.autograd.grad, torch.autograd.backward, Tensor.backward), and
                          the kernels max_pool2d, max_pool2d_backward, im2col

The usual mistakes, as the descriptions the messages show:
    STRIDE_1, ZERO_PAD, FLOAT32_BUFFER        (max_pool2d; STRIDE_1 for avg_pool2d too)
    PAD_NOT_COUNTED, PAD_COUNTED              (avg_pool2d and count_include_pad)
    EVERY_CELL, OVERWRITE, EVERY_TIE          (max_pool2d_backward)
    ONE_POLARITY                              (all_edges)

Small tools:
    pair(v)                        an int or a pair as a pair: pair(3) == (3, 3)
    pick(g, lo, hi)                a random int in lo..hi (both included) from the torch.Generator g
    max_pool2d_grad(dout, X, f, s=None, p=0)
                                   dL/dX through F.max_pool2d(X, f, s, p), by autograd
    edge_images(H, W)              {description: (1, 1, H, W) image} of seven straight edges
    lit(out)                       where an edge map lights up (above 1e-4 of its largest value)
    nonconstant_windows(img)       the 2x2 windows of img that touch an edge

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    max_pool2d_mistakes(X, f, s=None, p=0)
    avg_pool2d_mistakes(X, f, s=None, p=0, count_include_pad=True)
    max_pool2d_backward_mistakes(dout, X, f, s=None, p=0)

Checks, one case each. The student's function comes first; the arguments after X
are passed to it as they are (so `ex.check_max_pool2d(max_pool2d, X, 2, s=1, ...)`
calls `max_pool2d(X, 2, s=1)`), inside `check.forbid(preset)`; the result is
compared with `expected`, naming the usual mistakes, then X must be unchanged:
    check_max_pool2d(max_pool2d, X, *args, expected, shape=None, name=None, **kwargs)
        exact comparison: max pooling copies values
    check_avg_pool2d(avg_pool2d, X, *args, expected, shape=None, name=None, rtol=1e-5, atol=1e-6, **kwargs)
    check_max_pool2d_backward(max_pool2d_backward, dout, X, *args, expected, name=None,
                              rtol=1e-5, atol=1e-6, **kwargs)
    check_max_pool2d_backward_ties(max_pool2d_backward, dout, X, f, s)
        X with tied maxima: the total gradient per image and channel must equal dout's
    check_all_edges(all_edges, img, name) -> the edge maps
    check_counterexample(a, b)
"""
import torch
import torch.nn.functional as F

from helpers import check
from helpers.exercises import aten_ops, pair, pick, torch_functions

__all__ = [
    "NO_POOLING", "NO_POOLING_BACKWARD",
    "STRIDE_1", "ZERO_PAD", "FLOAT32_BUFFER", "PAD_NOT_COUNTED", "PAD_COUNTED",
    "EVERY_CELL", "OVERWRITE", "EVERY_TIE", "ONE_POLARITY",
    "pair", "pick", "max_pool2d_grad", "edge_images", "lit", "nonconstant_windows",
    "max_pool2d_mistakes", "avg_pool2d_mistakes", "max_pool2d_backward_mistakes",
    "check_max_pool2d", "check_avg_pool2d", "check_max_pool2d_backward", "check_max_pool2d_backward_ties",
    "check_all_edges",
    "check_counterexample",
]

# ---------------------------------------------------------------- presets

_POOL_FUNCTIONS = torch_functions(r"pool")
NO_POOLING = (
    *_POOL_FUNCTIONS,
    *aten_ops("max_pool2d", "max_pool2d_with_indices", "avg_pool2d"),
    torch.Tensor.unfold, F.unfold, "max_pool2d", "avg_pool2d", "max_pool2d_backward", "im2col",
)
NO_POOLING_BACKWARD = (
    *_POOL_FUNCTIONS,
    *aten_ops("max_pool2d", "max_pool2d_with_indices", "max_pool2d_with_indices_backward"),
    torch.Tensor.unfold, F.unfold, torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward,
    "max_pool2d", "max_pool2d_backward", "im2col",
)

# ---------------------------------------------------------------- the usual mistakes

STRIDE_1 = "the stride defaults to 1: in PyTorch's pooling s=None means s = f, the window size"
ZERO_PAD = "max pooling padded with zeros: pad with -inf, otherwise a padded 0 beats negative inputs"
FLOAT32_BUFFER = ("the values lost float64 precision: the output buffer is float32 (torch.zeros or "
                  "torch.full without dtype=X.dtype)")
PAD_NOT_COUNTED = ("the padded zeros are left out of the divisor: with count_include_pad=True "
                   "(the default) every window is divided by f_h * f_w, padding included")
PAD_COUNTED = ("the padded zeros are counted in the divisor although count_include_pad=False: "
               "divide by the number of real cells in the window")
EVERY_CELL = "the gradient goes to every cell of the window: it belongs to the window's maximum only"
OVERWRITE = ("overlapping windows overwrite each other's gradient: a cell that wins several "
             "windows must get the sum of their gradients (add with +=, do not assign)")
EVERY_TIE = ("the gradient goes to every tied maximum of a window: a window's gradient belongs "
             "to one of them (PyTorch takes the first), so the total gradient grows with each tie")
ONE_POLARITY = ("nothing lights up on this edge: after the ReLU each detector keeps one direction "
                "of brightness change only; you need all four (to the right, left, down and up)")


# ---------------------------------------------------------------- small tools

def _pool_args(f, s=None, p=0):
    """(f, s, p) of a call max_pool2d(X, *args, **kwargs), with the defaults."""
    return f, s, p


def _avg_args(f, s=None, p=0, count_include_pad=True):
    """(f, s, p, count_include_pad) of a call avg_pool2d(X, *args, **kwargs), with the defaults."""
    return f, s, p, count_include_pad


def _call(function_name, first, args, kwargs):
    """How a message shows a call: max_pool2d(X, (1, 3), s=1)."""
    shown = [first] + [repr(a) for a in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return f"{function_name}({', '.join(shown)})"


def _of(X):
    """'X of shape (1, 1, 1, 10), float32': the input a message talks about."""
    return f"X of shape {tuple(X.shape)}, {str(X.dtype).replace('torch.', '')}"


def _unchanged(after, before, what, call):
    """Check that the input `what` of `call` still holds `before` (exactly)."""
    check.close(after, before, name=f"{what} after {call} (your function must not change its input)",
                rtol=0, atol=0)


def max_pool2d_grad(dout, X, f, s=None, p=0):
    """dL/dX through Y = F.max_pool2d(X, f, s, p) when dL/dY = dout, by autograd.

    dout: shaped like Y. X: (N, C, H, W). Returns a tensor shaped like X; X is not changed.
    """
    Xr = X.clone().requires_grad_()
    F.max_pool2d(Xr, f, s, p).backward(dout)
    return Xr.grad


def edge_images(H, W):
    """Seven straight edges between 0 and 1, each as a (1, 1, H, W) float32 image.

    Returns {description: image}: vertical edges (column 3), horizontal edges (row 2),
    each with the bright side on either side, the two diagonal edges along the main
    diagonal, and an anti-diagonal edge (rows + cols >= 5).
    """
    rows, cols = torch.arange(H).reshape(-1, 1), torch.arange(W).reshape(1, -1)
    edges = {
        "a vertical edge, dark on the left": cols >= 3,
        "a vertical edge, bright on the left": cols < 3,
        "a horizontal edge, dark on top": rows >= 2,
        "a horizontal edge, bright on top": rows < 2,
        "a diagonal edge, bright above it": cols > rows,
        "a diagonal edge, dark above it": cols <= rows,
        "an anti-diagonal edge": rows + cols >= 5,
    }
    return {what: mask.float().expand(H, W).reshape(1, 1, H, W) for what, mask in edges.items()}


def lit(out):
    """Where an edge map lights up: above a small fraction (1e-4) of its largest value.

    out: a tensor. Returns a bool tensor of its shape.
    """
    return out > 1e-4 * out.abs().max().clamp_min(1e-12)


def nonconstant_windows(img):
    """The 2x2 windows of img that touch an edge (not all four values equal).

    img: (N, C, H, W). Returns a bool tensor (N, C, H - 1, W - 1).
    """
    return (F.max_pool2d(img, 2, 1) + F.max_pool2d(-img, 2, 1)) > 0


# ---------------------------------------------------------------- mistakes

def max_pool2d_mistakes(X, f, s=None, p=0):
    """The usual mistakes of max_pool2d(X, f, s, p) and what each gives here.

    X: (N, C, H, W); f, s (None means s = f), p: ints or (h, w) pairs.
    Returns {description: wrong output}: padding with zeros (when p is not 0), the stride
    defaulting to 1 (when s is None), and (float64 X) a float32 output buffer.
    """
    ph, pw = pair(p)
    mistakes = {}
    if ph or pw:
        mistakes[ZERO_PAD] = F.max_pool2d(F.pad(X, (pw, pw, ph, ph)), f, s)
    if s is None:
        mistakes[STRIDE_1] = F.max_pool2d(X, f, 1, p)
    if X.dtype == torch.float64:
        mistakes[FLOAT32_BUFFER] = F.max_pool2d(X, f, s, p).float().double()
    return mistakes


def avg_pool2d_mistakes(X, f, s=None, p=0, count_include_pad=True):
    """The usual mistakes of avg_pool2d(X, f, s, p, count_include_pad) and what each gives here.

    X: (N, C, H, W); f, s (None means s = f), p: ints or (h, w) pairs.
    Returns {description: wrong output}: the other count_include_pad (when p is not 0)
    and the stride defaulting to 1 (when s is None).
    """
    ph, pw = pair(p)
    mistakes = {}
    if ph or pw:
        mistakes[PAD_NOT_COUNTED if count_include_pad else PAD_COUNTED] = F.avg_pool2d(
            X, f, s, p, count_include_pad=not count_include_pad)
    if s is None:
        mistakes[STRIDE_1] = F.avg_pool2d(X, f, 1, p, count_include_pad=count_include_pad)
    return mistakes


def _overwritten(dout, X, f, s, p):
    """max_pool2d_backward with = instead of +=: where windows overlap, the last one wins."""
    (fh, fw), (sh, sw), (ph, pw) = pair(f), pair(f if s is None else s), pair(p)
    N, C, H, W = X.shape
    Xp = F.pad(X, (pw, pw, ph, ph), value=float("-inf"))
    dXp = torch.zeros_like(Xp)
    n, c = torch.arange(N).reshape(-1, 1), torch.arange(C).reshape(1, -1)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            k = Xp[:, :, i * sh:i * sh + fh, j * sw:j * sw + fw].reshape(N, C, -1).argmax(dim=-1)
            dXp[n, c, i * sh + k // fw, j * sw + k % fw] = dout[:, :, i, j]
    return dXp[:, :, ph:ph + H, pw:pw + W]


def max_pool2d_backward_mistakes(dout, X, f, s=None, p=0):
    """The usual mistakes of max_pool2d_backward(dout, X, f, s, p) and what each gives here.

    dout: (N, C, H_out, W_out), X: (N, C, H, W); f, s, p as in max_pool2d.
    Returns {description: wrong dX}: every cell of a window gets its gradient, and
    overlapping windows overwrite each other's gradient.
    """
    (fh, fw), (ph, pw) = pair(f), pair(p)
    N, C, H, W = X.shape
    every = F.fold(dout.reshape(N * C, 1, -1).expand(-1, fh * fw, -1), (H, W), (fh, fw),
                   padding=(ph, pw), stride=pair(f if s is None else s)).reshape(N, C, H, W)
    return {EVERY_CELL: every, OVERWRITE: _overwritten(dout, X, f, s, p)}


# ---------------------------------------------------------------- checks

def check_max_pool2d(max_pool2d, X, *args, expected, shape=None, name=None, **kwargs):
    """Run one case of max_pool2d: max_pool2d(X, *args, **kwargs).

    max_pool2d: the student's function. X: (N, C, H, W) tensor. args, kwargs: f, s, p as
    the call passes them. expected: the right output. shape: if given, the output's shape
    is checked first. name: how messages call the result (default: the call and X).
    Calls it with NO_POOLING switched off, compares exactly (max pooling copies values),
    naming the usual mistakes, then checks that X is unchanged. Returns None.
    """
    call = _call("max_pool2d", "X", args, kwargs)
    name = name or f"{call} with {_of(X)}"
    X0, mistakes = X.clone(), max_pool2d_mistakes(X, *_pool_args(*args, **kwargs))
    with check.forbid(NO_POOLING):
        out = max_pool2d(X, *args, **kwargs)
    if shape is not None:
        check.shape(out, shape, name=name)
    check.close(out, expected, name=name, mistakes=mistakes, rtol=0, atol=0)
    _unchanged(X, X0, "X", call)


def check_avg_pool2d(avg_pool2d, X, *args, expected, shape=None, name=None, rtol=1e-5, atol=1e-6, **kwargs):
    """Run one case of avg_pool2d: avg_pool2d(X, *args, **kwargs).

    avg_pool2d: the student's function. X: (N, C, H, W) tensor. args, kwargs: f, s, p,
    count_include_pad as the call passes them. expected: the right output. shape: if given,
    the output's shape is checked first. name: how messages call the result (default: the
    call and X). rtol, atol: the tolerance of the comparison.
    Calls it with NO_POOLING switched off, compares, naming the usual mistakes, then checks
    that X is unchanged. Returns None.
    """
    call = _call("avg_pool2d", "X", args, kwargs)
    name = name or f"{call} with {_of(X)}"
    X0, mistakes = X.clone(), avg_pool2d_mistakes(X, *_avg_args(*args, **kwargs))
    with check.forbid(NO_POOLING):
        out = avg_pool2d(X, *args, **kwargs)
    if shape is not None:
        check.shape(out, shape, name=name)
    check.close(out, expected, name=name, mistakes=mistakes, rtol=rtol, atol=atol)
    _unchanged(X, X0, "X", call)


def check_max_pool2d_backward(max_pool2d_backward, dout, X, *args, expected, name=None, rtol=1e-5, atol=1e-6,
                              **kwargs):
    """Run one case of max_pool2d_backward: max_pool2d_backward(dout, X, *args, **kwargs).

    max_pool2d_backward: the student's function. dout: (N, C, H_out, W_out), X: (N, C, H, W).
    args, kwargs: f, s, p as the call passes them. expected: the right dX (max_pool2d_grad
    gives it). name: how messages call the result (default: the call and X).
    rtol, atol: the tolerance of the comparison.
    Calls it with NO_POOLING_BACKWARD switched off, compares, naming the usual mistakes,
    then checks that X is unchanged. Returns None.
    """
    call = _call("max_pool2d_backward", "dout, X", args, kwargs)
    name = name or f"{call} with {_of(X)}"
    X0, mistakes = X.clone(), max_pool2d_backward_mistakes(dout, X, *_pool_args(*args, **kwargs))
    with check.forbid(NO_POOLING_BACKWARD):
        dX = max_pool2d_backward(dout, X, *args, **kwargs)
    check.close(dX, expected, name=name, mistakes=mistakes, rtol=rtol, atol=atol)
    _unchanged(X, X0, "X", call)


def check_max_pool2d_backward_ties(max_pool2d_backward, dout, X, f, s):
    """Run max_pool2d_backward(dout, X, f, s, 0) on an X whose windows have tied maxima.

    max_pool2d_backward: the student's function. dout: (N, C, H_out, W_out), X: (N, C, H, W)
    float64, with ties (after a ReLU, many zeros); f, s: ints or pairs, no padding.
    Any one maximum of a window may get its gradient (PyTorch takes the first), so only
    the total gradient per image and channel is checked: it must equal dout's
    (rtol = atol = 1e-12), naming EVERY_TIE. Called with NO_POOLING_BACKWARD switched off.
    Returns None.
    """
    (fh, fw), (N, C) = pair(f), X.shape[:2]
    cols = F.unfold(X, (fh, fw), stride=s).reshape(N, C, fh * fw, -1)
    tied = (cols == cols.max(2, keepdim=True).values).to(dout.dtype) * dout.reshape(N, C, 1, -1)
    with check.forbid(NO_POOLING_BACKWARD):
        dX = max_pool2d_backward(dout, X, f, s, 0)
    name = f"max_pool2d_backward(dout, X, f={f}, s={s}, p=0) with ties in X (after a ReLU)"
    check.close(dX.sum(dim=(2, 3)), dout.sum(dim=(2, 3)), rtol=1e-12, atol=1e-12,
                name=f"the total gradient per image and channel of {name}",
                mistakes={EVERY_TIE: tied.sum(dim=(2, 3))})


def check_all_edges(all_edges, img, name):
    """Run all_edges on a batch of grayscale images.

    all_edges: the student's function. img: (N, 1, H, W) float tensor. name: how messages
    call the result. Checks that the output is a tensor of shape (N, 1, H - 1, W - 1) with
    the dtype of img and no negative value; that a flat image gives 0 everywhere; and
    that the map of any other image is positive exactly on the 2x2 windows that touch an
    edge (naming ONE_POLARITY when it is 0 there). Returns the output.
    """
    out = all_edges(img)
    N, _, H, W = img.shape
    check.tensor(out, name=name)
    check.shape(out, (N, 1, H - 1, W - 1), name=name)
    check.equal(str(out.dtype), str(img.dtype), name=f"{name}: the dtype")
    check.close(out.clamp_max(0), torch.zeros_like(out), name=f"{name}: negative values (the map must be >= 0)")
    for k in range(N):
        what = name if N == 1 else f"{name}, image {k}"
        if bool((img[k] == img[k].flatten()[0]).all()):
            check.close(out[k], torch.zeros_like(out[k]), name=f"{what}: a flat image must give 0")
        else:
            check.equal(lit(out[k]), nonconstant_windows(img[k:k + 1])[0], name=f"{what}: where the map is positive",
                        mistakes={ONE_POLARITY: torch.zeros_like(out[k], dtype=torch.bool)})
    return out


def check_counterexample(a, b):
    """Check the counter-example: max_pool2d(a + b, 2) differs from max_pool2d(a, 2) + max_pool2d(b, 2).

    a, b: the student's tensors, which must be finite floating point tensors of shape
    (1, 1, 2, 2). Checks them, checks that the two sides differ by more than 1e-6 of
    their scale (in float64), and that average pooling, by contrast, is additive on them.
    Returns None.
    """
    for what, t in (("a", a), ("b", b)):
        check.tensor(t, name=what)
        check.shape(t, (1, 1, 2, 2), name=what)
        if not t.dtype.is_floating_point:
            raise check.CheckFailure(f"{what} has dtype {t.dtype}: use floating point values, "
                                     f"e.g. torch.tensor([[1., 0], [0, 0]])")
        if not bool(torch.isfinite(t).all()):
            raise check.CheckFailure(f"{what} holds inf or NaN: use ordinary finite numbers")
    A, B = a.detach().double(), b.detach().double()
    lhs = F.max_pool2d(A + B, 2)
    rhs = F.max_pool2d(A, 2) + F.max_pool2d(B, 2)
    scale = 1.0 + max(A.abs().max().item(), B.abs().max().item())
    if not (lhs - rhs).abs().max().item() > 1e-6 * scale:
        raise check.CheckFailure(
            f"max_pool2d(a + b) = {lhs.item():g} and max_pool2d(a) + max_pool2d(b) = {rhs.item():g} "
            f"are equal: this is not a counter-example.\n  Hint: the two sides agree when a and b "
            f"have their maximum at the same place. Put the maxima in different cells.")
    check.close(F.avg_pool2d(A + B, 2), F.avg_pool2d(A, 2) + F.avg_pool2d(B, 2),
                name="avg_pool2d(a + b) against avg_pool2d(a) + avg_pool2d(b)")
