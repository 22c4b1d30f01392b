"""Chapter 5 (transposed convolution): what its test cells share.

    from helpers.exercises import transposed_conv as ex
    ex.check_conv_transpose2d(conv_transpose2d, X, K, (2, 1))   # stride 2, padding 1

Presets (for `check.forbid`):
    NO_MATRIX          for conv_matrix: every course kernel ("*"), F.conv2d, F.unfold,
                       Tensor.unfold, F.conv_transpose2d, torch.convolution, aten.convolution
    NO_SCATTER         for conv_transpose2d: "*", every ready-made convolution and transposed
                       convolution (F.conv1d/2d/3d, F.conv_transpose2d, torch.convolution,
                       torch._convolution and their aten operators, aten.convolution_backward),
                       F.fold, col2im, and autograd (torch.autograd.grad / backward, Tensor.backward)
    NO_ZERO_INSERT     for conv_transpose2d_zero_insert: as NO_SCATTER, but F.conv2d is allowed
                       (the exercise is built on it)
    NO_SIZE            for conv_transpose_output_size: "*", F.conv1d/2d, F.conv_transpose1d/2d,
                       torch.convolution, aten.convolution

Rules, the line a wrong-shape message adds:
    SIZE_RULE          per axis, a transposed convolution gives (H - 1)*s - 2p + k values

Small tools:
    pair(v)                          an int or a pair as a pair: pair(3) == (3, 3)
    close_transposed(out, expected, name, mistakes, rule)
                                     check.close with this chapter's tolerances (1e-5 in float32,
                                     1e-10 in float64) and a wrong shape explained by `rule`
    hidden_tests()                   a context manager for the hidden tests of a cell: any failure
                                     becomes a CheckFailure that names the case (`.case`)

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    conv_matrix_mistakes(K, n)
    scatter_mistakes(X, K, stride, padding)
    zero_insert_mistakes(X, K, stride, padding)
    output_size_mistakes(m, f, s, p, output_padding)

Checks, one case each; the student's function comes first and is called inside
`check.forbid(preset)`; the expected value is computed here unless given:
    check_conv_matrix(conv_matrix, K, n, X, name, rtol=1e-5, atol=1e-6)
    check_conv_transpose2d(conv_transpose2d, X, K, args=(), kwargs=None, *, expected=None, name=None, size=None)
    check_zero_insert(conv_transpose2d_zero_insert, X, K, args=(), kwargs=None, *, expected=None, name=None, size=None)
    check_output_size(conv_transpose_output_size, m, f, s, p, output_padding, expected, name=None)
    check_value_error(conv_transpose_output_size, m, f, s, p, output_padding, why)
The tensor checks also check that the function left its tensor inputs unchanged.
"""
import contextlib

import torch
import torch.nn.functional as F

import helpers
from helpers import check
from helpers.exercises import must_raise_value_error, pair

__all__ = [
    "NO_MATRIX", "NO_SCATTER", "NO_ZERO_INSERT", "NO_SIZE", "SIZE_RULE",
    "pair", "close_transposed", "hidden_tests",
    "conv_matrix_mistakes", "scatter_mistakes", "zero_insert_mistakes", "output_size_mistakes",
    "check_conv_matrix", "check_conv_transpose2d", "check_zero_insert", "check_output_size", "check_value_error",
]

# ---------------------------------------------------------------- presets

NO_MATRIX = ("*", F.conv2d, torch.conv2d, F.unfold, torch.Tensor.unfold, F.conv_transpose2d,
             torch.conv_transpose2d, torch.convolution, torch.ops.aten.convolution)
_NO_TRANSPOSED = (F.conv_transpose2d, torch.conv_transpose2d, torch.convolution, torch._convolution,
                  torch.ops.aten.convolution, torch.ops.aten._convolution, torch.ops.aten.convolution_backward,
                  F.fold, torch._C._nn.col2im, torch.autograd.grad, torch.autograd.backward, torch.Tensor.backward)
NO_SCATTER = ("*", *_NO_TRANSPOSED, F.conv2d, torch.conv2d, F.conv1d, torch.conv1d, F.conv3d, torch.conv3d)
NO_ZERO_INSERT = ("*", *_NO_TRANSPOSED)
NO_SIZE = ("*", F.conv_transpose1d, F.conv_transpose2d, torch.conv_transpose1d, torch.conv_transpose2d,
           F.conv1d, F.conv2d, torch.convolution, torch.ops.aten.convolution)
SIZE_RULE = "per axis, a transposed convolution gives (H - 1)*s - 2p + k values."


# ---------------------------------------------------------------- small tools

def _tolerance(dtype):
    """The rtol and atol of this chapter's tensor checks: 1e-5 in float32, 1e-10 in float64."""
    return dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-10)


def _matches(a, b, tol):
    """Whether tensor a is close to tensor b (any dtype), with tol = dict(rtol=..., atol=...)."""
    try:
        check.close(a, b, dtype=False, **tol)
        return True
    except check.CheckFailure:
        return False


def close_transposed(out, expected, name, mistakes, rule):
    """check.close with this chapter's tolerances; a wrong shape is explained with `rule`.

    out: the student's tensor. expected: the right one (its dtype sets the tolerance).
    name: how messages call the result. mistakes: {description: wrong tensor}.
    rule: the size formula of the exercise, e.g. SIZE_RULE.
    A wrong shape names the mistake whose wrong value matches, or the only one of that shape.
    Raises check.CheckFailure; returns None.
    """
    tol = _tolerance(expected.dtype)
    check.tensor(out, name=name)
    if tuple(out.shape) != tuple(expected.shape):
        msg = (f"{name}: wrong shape.\n  expected shape {tuple(expected.shape)}\n"
               f"  got shape      {tuple(out.shape)}\n  {rule}")
        same = [d for d, w in mistakes.items() if tuple(w.shape) == tuple(out.shape)]
        cause = next((d for d in same if _matches(out, mistakes[d], tol)), None)
        if cause or len(same) == 1:
            msg += f"\n  likely cause: {cause or same[0]}"
        raise check.CheckFailure(msg)
    check.close(out, expected, name=name, mistakes=mistakes, **tol)


def _unchanged(after, before, what, call):
    """Check that the input `what` of `call` still holds `before` (exactly)."""
    check.close(after, before, name=f"{what} after {call} (your function must not change its input)",
                rtol=0, atol=0)


def _call_text(function_name, first, args, kwargs):
    """How a message shows a call: conv_transpose2d(X, K, stride=2, padding=1)."""
    shown = [first] + [repr(a) for a in args] + [f"{key}={value!r}" for key, value in kwargs.items()]
    return f"{function_name}({', '.join(shown)})"


def _stride_padding(args, kwargs):
    """(stride, padding) of a call f(X, K, *args, **kwargs), with the defaults 1 and 0."""
    given = dict(zip(("stride", "padding"), args))
    given.update(kwargs)
    return given.get("stride", 1), given.get("padding", 0)


class _HiddenTests:
    """What `hidden_tests()` yields: set `.case` to the case about to run."""

    def __init__(self):
        self.case = "no case"


@contextlib.contextmanager
def hidden_tests():
    """Run a cell's hidden tests; a failure becomes a CheckFailure naming the case.

        with ex.hidden_tests() as hidden:
            for ...:
                hidden.case = "conv_matrix(K, 5) for K of shape (2, 3), float32"
                ...

    A check's own message is kept; another exception (a TypeError on a wrong
    answer, ...) is shown as "TypeError: ...". Raises check.CheckFailure.
    """
    hidden = _HiddenTests()
    try:
        yield hidden
    except Exception as failure:  # noqa: BLE001 - every failure is reported the same way
        what = "" if isinstance(failure, AssertionError) else type(failure).__name__ + ": "
        raise check.CheckFailure(f"a hidden test failed, on {hidden.case}:\n{what}{failure}") from None


# ---------------------------------------------------------------- mistakes

def conv_matrix_mistakes(K, n):
    """The usual mistakes of conv_matrix(K, n) and the matrix each gives.

    K: (kh, kw) tensor; n: input size, an int or an (h, w) pair.
    Returns {description: wrong matrix}: the transpose, a rotated kernel, the windows
    numbered column by column, and (w > kw, kh > 1) the kernel rows packed together.
    """
    h, w = pair(n)
    right = helpers.conv_matrix(K, (h, w))
    kh, kw = K.shape
    Ho, Wo = h - kh + 1, w - kw + 1
    wrong = {
        "the matrix is transposed: C has one ROW per output value ((h - kh + 1)(w - kw + 1) rows) "
        "and one COLUMN per input value (h * w columns)": right.T,
        "the kernel is rotated by 180 degrees: deep learning's convolution is cross-correlation, "
        "so K goes in as it is": helpers.conv_matrix(K.flip(0, 1), (h, w)),
        "the windows are numbered column by column: row i * W' + j belongs to output (i, j), "
        "the windows in reading order": right.reshape(Ho, Wo, h * w).transpose(0, 1).reshape(Ho * Wo, h * w),
    }
    if w > kw and kh > 1:
        packed = torch.zeros_like(right)
        for i in range(Ho):
            for j in range(Wo):
                packed[i * Wo + j, i * w + j:i * w + j + kh * kw] = K.flatten()
        wrong["the kernel rows are packed next to each other: in a flattened input, two kernel rows "
              "are w - kw zeros apart (the rest of an input row)"] = packed
    return wrong


def scatter_mistakes(X, K, stride, padding):
    """The usual mistakes of scatter-add (conv_transpose2d) and what each gives here.

    X: (H, W), K: (kh, kw) tensors; stride, padding: int or pair.
    Returns {description: wrong output}: padding not cropped, cropped at the end or once,
    a rotated kernel, copies s + 1 apart or the stride ignored, copies assigned instead of added.
    """
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    full = helpers.conv_transpose2d(X, K, (sh, sw))
    Ho, Wo = full.shape[0] - 2 * ph, full.shape[1] - 2 * pw
    wrong = {}
    if (ph, pw) != (0, 0):
        wrong["the padding is not cropped: remove p rows and columns from EACH side of the full "
              "result, which is 2p too big per axis"] = full
        wrong["the padding is cropped at the end only: keep full[p : p + H', p : p + W'], "
              "p cells from each side"] = full[:Ho, :Wo]
        wrong["only p cells in all are cropped per axis: p come off EACH side (2p per axis)"] = full[ph:, pw:]
    wrong["the kernel is rotated by 180 degrees: scatter-add lays K itself; the rotation belongs "
          "to the zero-insertion form"] = helpers.conv_transpose2d(X, K.flip(0, 1), (sh, sw), (ph, pw))
    if (sh, sw) != (1, 1):
        wrong["the copies are s + 1 cells apart: the copy for input cell (i, j) starts at (i*s, j*s)"] = \
            helpers.conv_transpose2d(X, K, (sh + 1, sw + 1), (ph, pw))
        try:
            wrong["the stride is ignored: the copy for input cell (i, j) starts at (i*s, j*s)"] = \
                helpers.conv_transpose2d(X, K, 1, (ph, pw))
        except ValueError:
            pass
    kh, kw = K.shape
    last = torch.zeros_like(full)
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            last[i * sh:i * sh + kh, j * sw:j * sw + kw] = X[i, j] * K
    wrong["overlapping copies overwrite each other: add every copy (+=), do not assign (=)"] = \
        last[ph:ph + Ho, pw:pw + Wo]
    return wrong


def _zero_insert(X, K, stride, q, flip=True, gap=None, trailing=False):
    """Zero insertion with spacing `gap` (default: the stride), padding q, optional kernel flip.

    Returns the result, or None where the recipe cannot run (a crop larger than the input).
    """
    (sh, sw), (qh, qw) = pair(stride), pair(q)
    gh, gw = pair(gap) if gap is not None else (sh, sw)
    H, W = X.shape
    Z = torch.zeros((H - 1) * gh + 1 + (gh - 1 if trailing else 0),
                    (W - 1) * gw + 1 + (gw - 1 if trailing else 0), dtype=X.dtype)
    Z[::gh, ::gw] = X
    try:
        Z = F.pad(Z, (qw, qw, qh, qh))
        return F.conv2d(Z[None, None], (K.flip(0, 1) if flip else K)[None, None])[0, 0]
    except RuntimeError:
        return None


def zero_insert_mistakes(X, K, stride, padding):
    """The usual mistakes of the zero-insertion recipe and what each gives here.

    X: (H, W), K: (kh, kw) tensors; stride, padding: int or pair.
    Returns {description: wrong output}: the kernel not rotated, s zeros inserted (not s - 1),
    zeros after the last value, padding f - 1 or p instead of f - 1 - p, no padding.
    """
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    kh, kw = K.shape
    q = (kh - 1 - ph, kw - 1 - pw)
    wrong = {"the kernel is not rotated: in the zero-insertion form, correlate with K rotated by "
             "180 degrees, K.flip(0, 1)": _zero_insert(X, K, stride, q, flip=False)}
    wrong["s zeros were inserted between neighbouring values; insert s - 1 (stride 1 inserts none, "
          "stride 2 ONE zero between two values)"] = _zero_insert(X, K, stride, q, gap=(sh + 1, sw + 1))
    if (sh, sw) != (1, 1):
        wrong["zeros were also put after the last value: m values have m - 1 gaps, so the "
              "stretched input has (m - 1)*s + 1 cells"] = _zero_insert(X, K, stride, q, trailing=True)
    if (ph, pw) != (0, 0):
        wrong["the padding p is ignored: pad with f - 1 - p zeros, not f - 1 (the output is 2p too "
              "big per axis)"] = _zero_insert(X, K, stride, (kh - 1, kw - 1))
    if (ph, pw) != q:
        wrong["padded with p zeros: the zero-insertion form pads with f - 1 - p"] = \
            _zero_insert(X, K, stride, (ph, pw))
    if q != (0, 0):
        wrong["the stretched input is not padded: pad it with f - 1 - p zeros on every side"] = \
            _zero_insert(X, K, stride, 0)
    return {d: w for d, w in wrong.items() if w is not None}


def _by_value(slips, right):
    """{description: value} from (description, value) pairs, leaving out the right value;
    descriptions of slips that give the same value are joined with "; or "."""
    by_value = {}
    for why, value in slips:
        if value != right:
            by_value.setdefault(value, []).append(why)
    return {"; or ".join(whys): value for value, whys in by_value.items()}


def output_size_mistakes(m, f, s, p, output_padding):
    """The usual slips of conv_transpose_output_size and what each gives here.

    m, f, s, p, output_padding: ints. Returns {description: wrong size (int)}, only the slips
    whose size differs from the right one.
    """
    op = output_padding
    right = (m - 1) * s - 2 * p + f + op
    slips = [
        ("that is the size of a convolution, floor((m + 2p - f)/s) + 1; a transposed convolution goes "
         "the other way: (m - 1)*s - 2p + f", (m + 2 * p - f) // s + 1),
        ("the padding is added: a transposed convolution crops p cells from each side, -2p",
         (m - 1) * s + 2 * p + f + op),
        ("the padding is counted once: p cells are cropped from EACH side, -2p", (m - 1) * s - p + f + op),
        ("m*s instead of (m - 1)*s: the m copies of the kernel start s cells apart, the last one at (m - 1)*s",
         m * s - 2 * p + f + op),
        ("the stride is ignored: the copies of the kernel start s cells apart, (m - 1)*s", m - 1 - 2 * p + f + op),
        ("output_padding is missing: it adds that many cells, on one side", right - op),
        ("output_padding is counted twice: it adds cells on one side only", right + op),
    ]
    return _by_value(slips, right)


# ---------------------------------------------------------------- checks

def check_conv_matrix(conv_matrix, K, n, X, name, rtol=1e-5, atol=1e-6):
    """Run one case of conv_matrix.

    conv_matrix: the student's function. K: (kh, kw) tensor; n: int or (h, w); X: an (h, w)
    tensor. name: how messages call the result. rtol, atol: for the product check.
    Calls conv_matrix(K, n) with NO_MATRIX switched off; the matrix must equal
    helpers.conv_matrix(K, n) exactly (the usual mistakes named), and C @ X.flatten() must
    match F.conv2d of X. Then K must be unchanged. Returns None.
    """
    K0, expected, mistakes = K.clone(), helpers.conv_matrix(K, n), conv_matrix_mistakes(K, n)
    product = F.conv2d(X[None, None], K[None, None]).flatten()
    with check.forbid(NO_MATRIX):
        C = conv_matrix(K, n)
    check.close(C, expected, name=name, rtol=0, atol=0, mistakes=mistakes)
    check.close(C @ X.flatten(), product, name=f"{name}: C @ X.flatten(), compared with F.conv2d",
                rtol=rtol, atol=atol)
    _unchanged(K, K0, "K", f"conv_matrix(K, {n!r})")


def _check_transposed(function, function_name, preset, mistakes_of, earlier, X, K, args, kwargs, expected,
                      name, size):
    """One case of a single-channel transposed convolution: check_conv_transpose2d and
    check_zero_insert say what it does. earlier: names of the student's earlier answers
    switched off during the call (see _earlier_answers_off)."""
    kwargs = kwargs or {}
    stride, padding = _stride_padding(args, kwargs)
    call = _call_text(function_name, "X, K", args, kwargs)
    if expected is None:
        expected = F.conv_transpose2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
    if size is not None:
        check.shape(expected, size, name=f"the reference for {call}")
    if name is None:
        name = (f"{call} for X {X.shape[0]}x{X.shape[1]}, K {K.shape[0]}x{K.shape[1]}, "
                f"{str(X.dtype).replace('torch.', '')}")
    X0, K0, mistakes = X.clone(), K.clone(), mistakes_of(X, K, stride, padding)
    with check.forbid(preset), _earlier_answers_off(function, earlier):
        out = function(X, K, *args, **kwargs)
    close_transposed(out, expected, name, mistakes, SIZE_RULE)
    _unchanged(X, X0, "X", call)
    _unchanged(K, K0, "K", call)


def check_conv_transpose2d(conv_transpose2d, X, K, args=(), kwargs=None, *, expected=None, name=None, size=None):
    """Run one case of conv_transpose2d (scatter-add).

    conv_transpose2d: the student's function. X: (H, W), K: (kh, kw) tensors.
    args, kwargs: stride and padding as the call passes them, e.g. (2, 1) or
        {"stride": 2, "padding": 1}; none for the defaults.
    expected: the right output (default: F.conv_transpose2d). name: how messages call it
        (default: the call and the sizes). size: the output's (rows, cols), checked on expected.
    Calls conv_transpose2d(X, K, *args, **kwargs) with NO_SCATTER switched off, checks the
    output (naming the usual mistakes, SIZE_RULE for a wrong shape), then that X and K are
    unchanged. Returns None.
    """
    _check_transposed(conv_transpose2d, "conv_transpose2d", NO_SCATTER, scatter_mistakes, (),
                      X, K, args, kwargs, expected, name, size)


def check_zero_insert(conv_transpose2d_zero_insert, X, K, args=(), kwargs=None, *, expected=None, name=None,
                      size=None):
    """Run one case of conv_transpose2d_zero_insert.

    As check_conv_transpose2d, with NO_ZERO_INSERT switched off (F.conv2d stays on), the
    student's own conv_transpose2d and conv_matrix switched off too (this exercise asks for
    the other route), and the mistakes of the zero-insertion recipe named. Returns None.
    """
    _check_transposed(conv_transpose2d_zero_insert, "conv_transpose2d_zero_insert", NO_ZERO_INSERT,
                      zero_insert_mistakes, ("conv_transpose2d", "conv_matrix"),
                      X, K, args, kwargs, expected, name, size)


@contextlib.contextmanager
def _earlier_answers_off(function, names):
    """While the block runs, the notebook's functions `names` raise ForbiddenCall.

    function: the student's function; its globals are the notebook's namespace, where
    `names` (the student's earlier answers) are switched off and then put back. In the
    grader it is a proxy with no __globals__, and the block runs unchanged.
    """
    space = getattr(function, "__globals__", None)
    saved = {n: space[n] for n in names if n in space} if isinstance(space, dict) else {}

    def switched_off(name):
        def off(*args, **kwargs):
            raise check.ForbiddenCall(f"your answer called {name}, from an earlier exercise: this one "
                                      f"asks for the other route (zero insertion, padding, rotated kernel)")
        return off

    for n in saved:
        space[n] = switched_off(n)
    try:
        yield
    finally:
        for n, answer in saved.items():
            space[n] = answer


def _size_call(m, f, s, p, output_padding):
    return f"conv_transpose_output_size({m}, {f}, s={s}, p={p}, output_padding={output_padding})"


def check_output_size(conv_transpose_output_size, m, f, s, p, output_padding, expected, name=None):
    """Run one case of conv_transpose_output_size.

    conv_transpose_output_size: the student's function. m, f, s, p, output_padding: ints.
    expected: the right size (int). name: how messages call it (default: the call).
    Calls conv_transpose_output_size(m, f, s=s, p=p, output_padding=output_padding) with NO_SIZE
    switched off and checks the size exactly, naming the usual slips. Returns None.
    """
    with check.forbid(NO_SIZE):
        got = conv_transpose_output_size(m, f, s=s, p=p, output_padding=output_padding)
    check.equal(got, expected, name=name or _size_call(m, f, s, p, output_padding),
                mistakes=output_size_mistakes(m, f, s, p, output_padding))


def check_value_error(conv_transpose_output_size, m, f, s, p, output_padding, why):
    """Check that conv_transpose_output_size refuses an impossible setting with ValueError.

    m, f, s, p, output_padding: the setting. why: the reason, for the message.
    A ForbiddenCall is passed on; another exception, or a returned value, fails with `why`.
    Raises check.CheckFailure; returns None.
    """
    def run():
        with check.forbid(NO_SIZE):
            return conv_transpose_output_size(m, f, s=s, p=p, output_padding=output_padding)

    must_raise_value_error(_size_call(m, f, s, p, output_padding), run, why)


