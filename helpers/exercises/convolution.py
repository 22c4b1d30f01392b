"""Chapter 1 (convolution by hand): what its test cells share.

    from helpers.exercises import convolution as ex
    ex.check_corr2d(corr2d, X, K, expected, name="corr2d(X, K) on the worked example")

Presets (for `check.forbid`):
    CONV_FUNCTIONS        every torch function that convolves or cuts out windows
                          (F.conv2d, torch.convolution, unfold, as_strided, im2col, ...)
                          and the torch.ops.aten operators behind them, every overload
    NO_CONV               for corr2d: CONV_FUNCTIONS and the kernels corr2d,
                          corr2d_multi_in, corr2d_multi_in_out, conv2d
    NO_CONV_MULTI_IN      for corr2d_multi_in: the same without the kernel corr2d
    NO_CONV_MULTI_IN_OUT  for corr2d_multi_in_out: CONV_FUNCTIONS, corr2d_multi_in_out, conv2d
    NO_CONV_MATRIX        for conv1d_matrix: CONV_FUNCTIONS, conv1d_matrix, conv1d, conv_matrix
    NO_PARAMS             for conv_params and fc_params: those two kernels

The plus-sign example (the exercise done by hand):
    X_PLUS                the 5x5 plus sign, float64
    BARS                  {"W0": horizontal bar, "W1": vertical bar, "W2": diagonal}, float64

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    corr2d_mistakes(X, K)
    corr2d_multi_in_mistakes(X, K)
    corr2d_multi_in_out_mistakes(X, K)
    plus_by_hand_mistakes(name)
    conv_params_mistakes(c_in, c_out, kh, kw, bias)
    fc_params_mistakes(n, units, bias)
    conv1d_matrix_mistakes(k, n)

Checks, one case each; the student's function comes first, is called inside
`check.forbid(preset)`, and its result is checked with the mistakes above:
    check_corr2d(corr2d, X, K, expected, name, **tol)
    check_corr2d_multi_in(corr2d_multi_in, X, K, expected, name, **tol)
    check_corr2d_multi_in_out(corr2d_multi_in_out, X, K, expected, name, **tol)
    check_by_hand(value, name, w, right, mistakes)
    check_conv_params(conv_params, args, kwargs, expected=..., name=None, mistakes=None)
    check_fc_params(fc_params, args, kwargs, expected=..., name=None, mistakes=None)
    check_conv1d_matrix(conv1d_matrix, k, n, expected, name, **tol) -> A
The tensor checks also check that the function left its inputs unchanged.
"""
import math

import torch

import helpers
from helpers import check
from helpers.exercises import aten_ops, torch_functions

__all__ = [
    "CONV_FUNCTIONS", "NO_CONV", "NO_CONV_MULTI_IN", "NO_CONV_MULTI_IN_OUT", "NO_CONV_MATRIX", "NO_PARAMS",
    "X_PLUS", "BARS",
    "corr2d_mistakes", "corr2d_multi_in_mistakes", "corr2d_multi_in_out_mistakes", "plus_by_hand_mistakes",
    "conv_params_mistakes", "fc_params_mistakes", "conv1d_matrix_mistakes",
    "check_corr2d", "check_corr2d_multi_in", "check_corr2d_multi_in_out", "check_by_hand",
    "check_conv_params", "check_fc_params", "check_conv1d_matrix",
]

# ---------------------------------------------------------------- presets

CONV_FUNCTIONS = (
    *torch_functions(r"conv(?!ert)|im2col|col2im|unfold|as_strided|nnpack"),
    torch.Tensor.unfold, torch.Tensor.as_strided,
    *aten_ops("conv1d", "conv2d", "conv3d", "convolution", "_convolution", "convolution_backward",
              "conv_transpose1d", "conv_transpose2d", "im2col", "col2im", "unfold", "as_strided",
              "mkldnn_convolution", "_slow_conv2d_forward", "slow_conv3d", "thnn_conv2d"),
)
NO_CONV = ("corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv2d", *CONV_FUNCTIONS)
NO_CONV_MULTI_IN = ("corr2d_multi_in", "corr2d_multi_in_out", "conv2d", *CONV_FUNCTIONS)
NO_CONV_MULTI_IN_OUT = ("corr2d_multi_in_out", "conv2d", *CONV_FUNCTIONS)
NO_CONV_MATRIX = ("conv1d_matrix", "conv1d", "conv_matrix", *CONV_FUNCTIONS)
NO_PARAMS = ("conv_params", "fc_params")

# ---------------------------------------------------------------- the plus sign

X_PLUS = torch.tensor([[0., 1, 0, 0, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1], [0, 1, 0, 0, 0], [0, 1, 0, 0, 0]],
                      dtype=torch.float64)
BARS = {"W0": torch.tensor([[0., 0, 0], [1, 1, 1], [0, 0, 0]], dtype=torch.float64),
        "W1": torch.tensor([[0., 1, 0], [0, 1, 0], [0, 1, 0]], dtype=torch.float64),
        "W2": torch.tensor([[1., 0, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float64)}


# ---------------------------------------------------------------- mistakes

def corr2d_mistakes(X, K):
    """The usual mistakes of corr2d and what each gives for these inputs.

    X: (H, W) tensor, K: (kh, kw) tensor.
    Returns {description: wrong output}: a flipped kernel, loops stopping one step
    early, an output one row and column too large, and (square K) a transposed kernel.
    """
    Y = helpers.corr2d(X, K)
    no_last_row, no_last_col = Y.clone(), Y.clone()
    no_last_row[-1, :] = 0
    no_last_col[:, -1] = 0
    no_last_both = no_last_row.clone()
    no_last_both[:, -1] = 0
    early = "a loop stops one step early (range(H - kh) instead of range(H - kh + 1)): "
    mistakes = {
        "the kernel is flipped: that is convolution, not cross-correlation (use K[a, b], not a reversed K)":
            helpers.corr2d(X, K.flip(0, 1)),
        "the output has one row and one column too many: (H - kh + 2, W - kw + 2) (range end off by one)":
            torch.zeros(Y.shape[0] + 1, Y.shape[1] + 1, dtype=Y.dtype),
    }
    # With a single row (or column) an all-zero output is as likely an answer left
    # unfinished as a loop stopping early: name the loop only where it can be told apart.
    tall, wide = Y.shape[0] > 1, Y.shape[1] > 1
    if tall:
        mistakes[early + "the last row of the output is never filled"] = no_last_row
    if wide:
        mistakes[early + "the last column of the output is never filled"] = no_last_col
    if tall and wide:
        mistakes[early + "the last row and column of the output are never filled"] = no_last_both
    if K.shape[0] == K.shape[1]:
        mistakes["the kernel is transposed: multiply X[i + a, j + b] by K[a, b], not by K[b, a]"] = \
            helpers.corr2d(X, K.T)
    return mistakes


def corr2d_multi_in_mistakes(X, K):
    """The usual mistakes of corr2d_multi_in and what each gives for these inputs.

    X: (C, H, W) tensor, K: (C, kh, kw) tensor.
    Returns {description: wrong output}: one channel only, channels averaged or not
    summed, a flipped kernel.
    """
    Y = helpers.corr2d_multi_in(X, K)
    return {
        "only the first channel is used: add the cross-correlations of all C channels":
            helpers.corr2d(X[0], K[0]),
        "only the last channel is kept: the sum over channels is overwritten, not accumulated":
            helpers.corr2d(X[-1], K[-1]),
        "the channels are averaged: add them up, do not divide by C": Y / X.shape[0],
        "one map per channel, not summed: the C maps must be added into one": torch.stack(
            [helpers.corr2d(x, k) for x, k in zip(X, K)]),
        "the kernel is flipped: that is convolution, not cross-correlation":
            helpers.corr2d_multi_in(X, K.flip(-2, -1)),
    }


def corr2d_multi_in_out_mistakes(X, K):
    """The usual mistakes of corr2d_multi_in_out and what each gives for these inputs.

    X: (C_in, H, W) tensor, K: (C_out, C_in, kh, kw) tensor.
    Returns {description: wrong output}: output channels summed or stacked last, a
    flipped kernel, one map per input channel, and (C_in == C_out) K[:, o] for K[o].
    """
    Y = helpers.corr2d_multi_in_out(X, K)
    mistakes = {
        "the output channels are added into one map: stack them (torch.stack), do not sum them": Y.sum(0),
        "the output channels are stacked along the last axis: output channel o must be Y[o], shape (C_out, H', W')":
            Y.permute(1, 2, 0),
        "the kernel is flipped: that is convolution, not cross-correlation":
            helpers.corr2d_multi_in_out(X, K.flip(-2, -1)),
    }
    mistakes["one map per input channel: loop over the C_out kernels K[o], each giving one output map"] = torch.stack(
        [sum(helpers.corr2d(X[c], K[o, c]) for o in range(K.shape[0])) for c in range(K.shape[1])])
    if K.shape[0] == K.shape[1]:
        mistakes["K[:, o] used instead of K[o]: the first axis of K is the output channel, the second the input channel"] = \
            helpers.corr2d_multi_in_out(X, K.transpose(0, 1))
    return mistakes


def plus_by_hand_mistakes(name):
    """The usual mistakes of the plus-sign exercise done by hand.

    name: "Y0", "Y1" or "Y2" (X_PLUS with BARS["W0"], ["W1"], ["W2"]).
    Returns {description: wrong 3x3 (or 5x5) answer as a float64 tensor}.
    """
    copied_input = {"you wrote the 5x5 input instead of the 3x3 output": X_PLUS}
    if name == "Y0":
        return {"that is the vertical bar's output (W1): W0 is the horizontal bar": helpers.corr2d(X_PLUS, BARS["W1"]),
                **copied_input}
    if name == "Y1":
        return {"that is the horizontal bar's output (W0): W1 is the vertical bar": helpers.corr2d(X_PLUS, BARS["W0"]),
                **copied_input}
    return {"you used the other diagonal [[0, 0, 1], [0, 1, 0], [1, 0, 0]]: W2 runs from top-left to bottom-right":
                helpers.corr2d(X_PLUS, BARS["W2"].flip(1)),
            **copied_input}


def conv_params_mistakes(c_in, c_out, kh, kw, bias):
    """The usual mistakes of conv_params(c_in, c_out, kh, kw, bias).

    Returns {description: wrong count (int)}: biases missing, one for the layer, one per
    input channel, following c_in, or counted although bias is False.
    """
    w = c_out * c_in * kh * kw
    if not bias:
        return {"biases counted although bias=False": w + c_out}
    return {"the biases are missing: every output channel has one bias": w,
            "a single bias for the whole layer: there is one bias per output channel": w + 1,
            "one bias per input channel: each kernel has one bias, however many channels it reads": w + c_in * c_out,
            "c_in and c_out swapped in the bias: the biases follow the output channels": w + c_in}


def fc_params_mistakes(n, units, bias):
    """The usual mistakes of fc_params for n inputs (an int) and `units` units.

    Returns {description: wrong count (int)}: biases missing, one for the layer, or
    counted although bias is False.
    """
    if not bias:
        return {"biases counted although bias=False": units * (n + 1)}
    return {"the biases are missing: every unit has one bias": units * n,
            "a single bias for the whole layer: there is one bias per unit": units * n + 1}


def conv1d_matrix_mistakes(k, n):
    """The usual mistakes of conv1d_matrix(k, n) and the matrix each gives.

    k: (f,) tensor, n: int >= f.
    Returns {description: wrong matrix}: a reversed kernel, the transpose, 'full' mode,
    the last row missing.
    """
    A = helpers.conv1d_matrix(k, n)
    f = k.shape[0]
    full = torch.zeros(n + f - 1, n, dtype=k.dtype)
    for i in range(n + f - 1):
        for a in range(f):
            if 0 <= i - (f - 1) + a < n:
                full[i, i - (f - 1) + a] = k[a]
    return {
        "the kernel is reversed in each row: that is convolution, not cross-correlation (row i holds k[0], k[1], ... from column i on)":
            helpers.conv1d_matrix(k.flip(0), n),
        "the matrix is transposed: A must have n - f + 1 rows (one per output) and n columns (one per input)": A.T,
        "one row per possible overlap ('full' mode, n + f - 1 rows): a valid output has n - f + 1 rows": full,
        "the last row is missing (range(n - f) instead of range(n - f + 1))": A[:-1],
    }


# ---------------------------------------------------------------- checks

def _unchanged(after, before, what, call):
    """Check that the input `what` of `call` still holds `before` (exactly)."""
    check.close(after, before, name=f"{what} after {call} (your function must not change its inputs)",
                rtol=0, atol=0)


def check_corr2d(corr2d, X, K, expected, name, **tol):
    """Run one case of corr2d.

    corr2d: the student's function. X: (H, W), K: (kh, kw) tensors. expected: the right output.
    name: how messages call the result. tol: rtol / atol for check.close.
    Calls corr2d(X, K) with NO_CONV switched off, checks the output (naming the usual
    mistakes), then that X and K are unchanged. Returns None.
    """
    X0, K0, mistakes = X.clone(), K.clone(), corr2d_mistakes(X, K)
    with check.forbid(NO_CONV):
        out = corr2d(X, K)
    check.close(out, expected, name=name, mistakes=mistakes, **tol)
    _unchanged(X, X0, "X", "corr2d(X, K)")
    _unchanged(K, K0, "K", "corr2d(X, K)")


def check_corr2d_multi_in(corr2d_multi_in, X, K, expected, name, **tol):
    """Run one case of corr2d_multi_in.

    corr2d_multi_in: the student's function. X: (C, H, W), K: (C, kh, kw) tensors.
    expected: the right output. name: how messages call it. tol: rtol / atol for check.close.
    Calls it with NO_CONV_MULTI_IN switched off, checks the output (naming the usual
    mistakes), then that X and K are unchanged. Returns None.
    """
    X0, K0, mistakes = X.clone(), K.clone(), corr2d_multi_in_mistakes(X, K)
    with check.forbid(NO_CONV_MULTI_IN):
        out = corr2d_multi_in(X, K)
    check.close(out, expected, name=name, mistakes=mistakes, **tol)
    _unchanged(X, X0, "X", "corr2d_multi_in(X, K)")
    _unchanged(K, K0, "K", "corr2d_multi_in(X, K)")


def check_corr2d_multi_in_out(corr2d_multi_in_out, X, K, expected, name, **tol):
    """Run one case of corr2d_multi_in_out.

    corr2d_multi_in_out: the student's function. X: (C_in, H, W), K: (C_out, C_in, kh, kw).
    expected: the right output. name: how messages call it. tol: rtol / atol for check.close.
    Calls it with NO_CONV_MULTI_IN_OUT switched off, checks the output (naming the usual
    mistakes), then that X and K are unchanged. Returns None.
    """
    X0, K0, mistakes = X.clone(), K.clone(), corr2d_multi_in_out_mistakes(X, K)
    with check.forbid(NO_CONV_MULTI_IN_OUT):
        out = corr2d_multi_in_out(X, K)
    check.close(out, expected, name=name, mistakes=mistakes, **tol)
    _unchanged(X, X0, "X", "corr2d_multi_in_out(X, K)")
    _unchanged(K, K0, "K", "corr2d_multi_in_out(X, K)")


def _hand_answer(value, name):
    """The student's list of lists as a float64 tensor, or a clear failure."""
    if value is None:
        raise check.CheckFailure(f"{name} is None: write the 3x3 list of numbers you worked out.")
    try:
        return torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise check.CheckFailure(
            f"{name} should be a 3x3 list of lists of numbers, such as [[1, 2, 3], [4, 5, 6], [7, 8, 9]]; "
            f"got {value!r}") from None


def check_by_hand(value, name, w, right, mistakes):
    """Check a 3x3 answer worked out by hand; a failure names the wrong cells, never the right values.

    value: the student's answer (a 3x3 list of lists of numbers). name: its name ("Y0").
    w: the kernel's name ("W0"). right: the right 3x3 output (float64 tensor).
    mistakes: {description: wrong answer}, e.g. plus_by_hand_mistakes(name).
    Raises check.CheckFailure; returns None.
    """
    got = _hand_answer(value, name)
    try:
        check.close(got, right, name=f"{name} (X_plus with {w})", mistakes=mistakes)
    except check.CheckFailure as failure:
        lines = str(failure).split("\n")
        if tuple(got.shape) != (3, 3):
            raise                                   # the shape message shows no values
        a, e = got.tolist(), right.tolist()
        wrong = [f"{name}[{i}][{j}]" for i in range(3) for j in range(3) if abs(a[i][j] - e[i][j]) > 1e-6]
        msg = [f"{name} (X_plus with {w}): {len(wrong)} of 9 values {'is' if len(wrong) == 1 else 'are'} "
               f"wrong: {', '.join(wrong)}."]
        msg += ["  " + line.strip() for line in lines[1:] if "likely cause" in line or "transpose" in line]
        if len(msg) == 1:
            msg.append(f"  Recompute those cells: {name}[i][j] is the sum of the 3x3 window X_plus[i:i+3, j:j+3] "
                       f"times {w}, cell by cell.")
        raise check.CheckFailure("\n".join(msg)) from None


def _call_text(function_name, args, kwargs):
    """How a message shows the call: conv_params(3, 16, 3, 3, bias=False)."""
    shown = [repr(a) for a in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return f"{function_name}({', '.join(shown)})"


def _bias(args, kwargs, position):
    """The bias argument of a call: by keyword, by position, or the default True."""
    if "bias" in kwargs:
        return kwargs["bias"]
    return args[position] if len(args) > position else True


def check_conv_params(conv_params, args, kwargs=None, *, expected, name=None, mistakes=None):
    """Run one case of conv_params.

    conv_params: the student's function. args, kwargs: the call's arguments, e.g.
    (3, 16, 3, 3) and {"bias": False}. expected: the right count (int).
    name: how messages call it (default: the call, conv_params(3, 16, 3, 3, bias=False)).
    mistakes: {description: wrong count} (default: conv_params_mistakes for these arguments).
    Calls it with NO_PARAMS switched off and checks the count exactly. Returns None.
    """
    kwargs = kwargs or {}
    if mistakes is None:
        mistakes = conv_params_mistakes(*args[:4], _bias(args, kwargs, 4))
    with check.forbid(NO_PARAMS):
        got = conv_params(*args, **kwargs)
    check.equal(got, expected, name=name or _call_text("conv_params", args, kwargs), mistakes=mistakes)


def check_fc_params(fc_params, args, kwargs=None, *, expected, name=None, mistakes=None):
    """Run one case of fc_params.

    fc_params: the student's function. args, kwargs: the call's arguments, e.g.
    ((3, 32, 32), 1) and {"bias": False}. expected: the right count (int).
    name: how messages call it (default: the call, fc_params((3, 32, 32), 1, bias=False)).
    mistakes: {description: wrong count} (default: fc_params_mistakes for these arguments).
    Calls it with NO_PARAMS switched off and checks the count exactly. Returns None.
    """
    kwargs = kwargs or {}
    if mistakes is None:
        n = args[0] if isinstance(args[0], int) else math.prod(args[0])
        mistakes = fc_params_mistakes(n, args[1], _bias(args, kwargs, 2))
    with check.forbid(NO_PARAMS):
        got = fc_params(*args, **kwargs)
    check.equal(got, expected, name=name or _call_text("fc_params", args, kwargs), mistakes=mistakes)


def check_conv1d_matrix(conv1d_matrix, k, n, expected, name, **tol):
    """Run one case of conv1d_matrix.

    conv1d_matrix: the student's function. k: (f,) tensor, n: int. expected: the right matrix.
    name: how messages call it. tol: rtol / atol for check.close.
    Calls conv1d_matrix(k, n) with NO_CONV_MATRIX switched off, checks the matrix (naming
    the usual mistakes), then that k is unchanged. Returns the student's matrix.
    """
    k0, mistakes = k.clone(), conv1d_matrix_mistakes(k, n)
    with check.forbid(NO_CONV_MATRIX):
        A = conv1d_matrix(k, n)
    check.close(A, expected, name=name, mistakes=mistakes, **tol)
    _unchanged(k, k0, "k", "conv1d_matrix(k, n)")
    return A
