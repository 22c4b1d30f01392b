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
    NO_GRAD            for conv2d_input_grad: as NO_ZERO_INSERT
    NO_BUILD           for generator_summary: "*", transposed convolutions, and what creating a
                       layer runs (kaiming_uniform_, Tensor.uniform_, torch.empty, torch.empty_like)
    NO_HELPERS         for dcgan_generator: "*" (nn.ConvTranspose2d and friends are the exercise)

Rules, the line a wrong-shape message adds:
    SIZE_RULE          per axis, a transposed convolution gives (H - 1)*s - 2p + k values
    GRAD_RULE          the gradient has the shape of the input X

Small tools:
    pair(v)                          an int or a pair as a pair: pair(3) == (3, 3)
    close_transposed(out, expected, name, mistakes, rule)
                                     check.close with this chapter's tolerances (1e-5 in float32,
                                     1e-10 in float64) and a wrong shape explained by `rule`
    autograd_input_grad(dY, K, size, stride, padding)
                                     dL/dX of Y = conv2d(X, K) with dL/dY = dY, by autograd
    measured_generator(nz, ngf, nc)  (shapes, n_params) measured on helpers.models.dcgan_generator
    describe_layers(model)           one string per layer of a model ("BatchNorm2d(512)", ...)
    hidden_tests()                   a context manager for the hidden tests of a cell: any failure
                                     becomes a CheckFailure that names the case (`.case`)

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    conv_matrix_mistakes(K, n)
    scatter_mistakes(X, K, stride, padding)
    zero_insert_mistakes(X, K, stride, padding)
    output_size_mistakes(m, f, s, p, output_padding)
    input_grad_mistakes(dY, K, size, stride, padding)
    param_count_mistakes(nz, ngf, nc)
    layer_mistakes(expected_layers, nc)

Checks, one case each; the student's function comes first and is called inside
`check.forbid(preset)`; the expected value is computed here unless given:
    check_conv_matrix(conv_matrix, K, n, X, name, rtol=1e-5, atol=1e-6)
    check_conv_transpose2d(conv_transpose2d, X, K, args=(), kwargs=None, *, expected=None, name=None, size=None)
    check_zero_insert(conv_transpose2d_zero_insert, X, K, args=(), kwargs=None, *, expected=None, name=None, size=None)
    check_output_size(conv_transpose_output_size, m, f, s, p, output_padding, expected, name=None)
    check_value_error(conv_transpose_output_size, m, f, s, p, output_padding, why)
    check_conv2d_input_grad(conv2d_input_grad, size, K, stride, padding, dtype=torch.float32, seed=0)
    check_generator_summary(generator_summary, nz, ngf, nc)
    check_dcgan_generator(dcgan_generator, nz, ngf, nc, seed)
The tensor checks also check that the function left its tensor inputs unchanged.
"""
import contextlib

import torch
import torch.nn as nn
import torch.nn.functional as F

import helpers
from helpers import check

__all__ = [
    "NO_MATRIX", "NO_SCATTER", "NO_ZERO_INSERT", "NO_SIZE", "NO_GRAD", "NO_BUILD", "NO_HELPERS",
    "SIZE_RULE", "GRAD_RULE",
    "pair", "close_transposed", "autograd_input_grad", "measured_generator", "describe_layers", "hidden_tests",
    "conv_matrix_mistakes", "scatter_mistakes", "zero_insert_mistakes", "output_size_mistakes",
    "input_grad_mistakes", "param_count_mistakes", "layer_mistakes",
    "check_conv_matrix", "check_conv_transpose2d", "check_zero_insert", "check_output_size", "check_value_error",
    "check_conv2d_input_grad", "check_generator_summary", "check_dcgan_generator",
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
NO_GRAD = ("*", *_NO_TRANSPOSED)
NO_BUILD = ("*", F.conv_transpose2d, torch.conv_transpose2d, torch.convolution, torch.ops.aten.convolution,
            torch.nn.init.kaiming_uniform_, torch.Tensor.uniform_, torch.empty, torch.empty_like)
NO_HELPERS = ("*",)

SIZE_RULE = "per axis, a transposed convolution gives (H - 1)*s - 2p + k values."
GRAD_RULE = "the gradient has the shape of the input X, input_size."


# ---------------------------------------------------------------- small tools

def pair(v):
    """An int or an (h, w) pair -> (h, w): pair(3) == (3, 3), pair((3, 2)) == (3, 2)."""
    return (v, v) if isinstance(v, int) else tuple(v)


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


def autograd_input_grad(dY, K, size, stride, padding):
    """dL/dX by autograd, for Y = conv2d(X, K, stride, padding) with dL/dY = dY.

    dY: (H', W'); K: (kh, kw); size: (H, W) of X, or an int. Returns (H, W), dtype of dY.
    """
    X = torch.zeros(pair(size), dtype=dY.dtype, requires_grad=True)
    F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0].backward(dY)
    return X.grad


def measured_generator(nz, ngf, nc):
    """Output shapes of the transposed convolutions and the parameter count, measured.

    Builds helpers.models.dcgan_generator(nz, ngf, nc) and runs a (1, nz, 1, 1) input.
    Returns (shapes, n_params): a list of (C, H, W) tuples, one per ConvTranspose2d, and an int.
    """
    G = helpers.models.dcgan_generator(nz, ngf, nc).eval()
    shapes, x = [], torch.zeros(1, nz, 1, 1)
    with torch.no_grad():
        for layer in G:
            x = layer(x)
            if isinstance(layer, nn.ConvTranspose2d):
                shapes.append(tuple(x.shape[1:]))
    return shapes, sum(p.numel() for p in G.parameters())


def _one(t):
    """A tuple of equal sizes as one number: (4, 4) -> 4; (4, 2) stays (4, 2)."""
    return t[0] if len(set(t)) == 1 else t


def describe_layers(model):
    """One string per layer (leaf module) of `model`, in order.

    model: an nn.Module, or the proxy of one (in the grader, see docs/grading.md).
    Returns a list of strings such as "ConvTranspose2d(100, 512, kernel_size=4, stride=1,
    padding=0, bias=False)", "BatchNorm2d(512)", "ReLU()", "Tanh()"; other layers by their repr.
    """
    out = []
    for m in model.modules():
        if any(True for _ in m.children()):
            continue
        if isinstance(m, nn.ConvTranspose2d):
            extra = ""
            if any(m.output_padding):
                extra += f", output_padding={_one(m.output_padding)}"
            if _one(m.dilation) != 1 or m.groups != 1:
                extra += f", dilation={_one(m.dilation)}, groups={m.groups}"
            out.append(f"ConvTranspose2d({m.in_channels}, {m.out_channels}, kernel_size={_one(m.kernel_size)}, "
                       f"stride={_one(m.stride)}, padding={_one(m.padding)}{extra}, bias={m.bias is not None})")
        elif isinstance(m, nn.BatchNorm2d):
            out.append(f"BatchNorm2d({m.num_features})" + ("" if m.affine else ", affine=False"))
        elif m.__class__ in (nn.ReLU, nn.Tanh):    # __class__: also true of a graded proxy
            out.append(m.__class__.__name__ + "()")
        else:
            out.append(repr(m))
    return out


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


def input_grad_mistakes(dY, K, size, stride, padding):
    """The usual mistakes of conv2d_input_grad and what each gives here.

    dY: (H', W'), K: (kh, kw) tensors; size: (H, W) of X, or an int; stride, padding: int or pair.
    Returns {description: wrong gradient}: the transposed convolution's size, the missing rows
    filled with zeros or added at the top-left, the padding not cropped, a rotated kernel.
    """
    (H, W), (sh, sw), (ph, pw) = pair(size), pair(stride), pair(padding)
    padded = torch.zeros(H + 2 * ph, W + 2 * pw, dtype=dY.dtype)
    full = helpers.conv_transpose2d(dY, K, (sh, sw))
    padded[:full.shape[0], :full.shape[1]] = full
    wrong = {}
    rh, rw = H + 2 * ph - full.shape[0], W + 2 * pw - full.shape[1]
    if (rh, rw) != (0, 0) and rh < H and rw < W:
        ct = helpers.conv_transpose2d(dY, K, (sh, sw), (ph, pw))
        wrong["the result has the size of the transposed convolution, (H' - 1)*s - 2p + k, not of the "
              "input: the last rows or columns, that no window reached, are missing (output_padding)"] = ct
        wrong["the extra rows or columns (output_padding) are filled with zeros, but with p > 0 they hold "
              "gradient: put the full result on the padded grid (H + 2p), then crop p from each side"] = \
            F.pad(ct, (0, rw, 0, rh))
        wrong["the missing rows or columns are added at the top or left; they belong at the bottom and "
              "right, where the windows stop"] = F.pad(ct, (rw, 0, rh, 0))
    if (ph, pw) != (0, 0):
        wrong["the padding is not cropped: the gradient on the padded grid has p extra cells on each side"] = padded
    wrong["the kernel is rotated by 180 degrees: the gradient scatters dY with K itself"] = \
        autograd_input_grad(dY, K.flip(0, 1), (H, W), (sh, sw), (ph, pw))
    return wrong


def param_count_mistakes(nz, ngf, nc):
    """The usual slips in counting the DCGAN generator's parameters, and what each gives.

    nz, ngf, nc: ints. Returns {description: wrong count (int)}: BatchNorm forgotten, biases
    counted, running statistics counted, a BatchNorm after the last layer, one weight per
    channel pair instead of a 4 x 4 kernel.
    """
    widths = [nz, 8 * ngf, 4 * ngf, 2 * ngf, ngf, nc]
    weights = sum(a * b * 16 for a, b in zip(widths, widths[1:]))
    bn = 2 * sum(widths[1:5])
    slips = [
        ("the BatchNorm layers have parameters too: a scale gamma and a shift beta per channel, "
         "2c for BatchNorm2d(c)", weights),
        ("the transposed convolutions have no bias (bias=False)", weights + bn + sum(widths[1:])),
        ("BatchNorm's running mean and variance are buffers, not parameters: 2c per BatchNorm2d(c), not 4c",
         weights + 2 * bn),
        ("there is no BatchNorm after the last layer: it goes straight into tanh", weights + bn + 2 * nc),
        ("each (input, output) channel pair has a whole 4 x 4 kernel: c_in * c_out * 16 weights",
         weights // 16 + bn),
    ]
    return _by_value(slips, weights + bn)


def layer_mistakes(expected, nc):
    """The usual mistakes in building the DCGAN generator, as layer lists (describe_layers).

    expected: describe_layers of the right model; nc: image channels.
    Returns {description: wrong list of layer strings}: biased convolutions, LeakyReLU,
    a BatchNorm before tanh, a sigmoid output.
    """
    text = "\n".join(expected)
    tanh_to_end = expected[:-1]
    return {
        "the transposed convolutions have a bias: DCGAN uses bias=False (the BatchNorm after each "
        "has its own shift)": text.replace("bias=False", "bias=True").split("\n"),
        "LeakyReLU is the discriminator's activation; the generator uses ReLU":
            text.replace("ReLU()", "LeakyReLU(negative_slope=0.2)").split("\n"),
        "there is no BatchNorm after the last layer: it goes straight into tanh":
            tanh_to_end + [f"BatchNorm2d({nc})", "Tanh()"],
        "the output layer is tanh, not a sigmoid: the images are scaled to [-1, 1]":
            tanh_to_end + ["Sigmoid()"],
    }


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
    call = _size_call(m, f, s, p, output_padding)
    try:
        with check.forbid(NO_SIZE):
            got = conv_transpose_output_size(m, f, s=s, p=p, output_padding=output_padding)
    except ValueError:
        return
    except check.ForbiddenCall:
        raise
    except Exception as e:
        raise check.CheckFailure(
            f"{call} raised {type(e).__name__} ({e}); it should raise ValueError, because {why}.") from None
    raise check.CheckFailure(
        f"{call} returned {got!r}; it should raise ValueError, because {why}.\n"
        f"  Check the arguments before computing: if ...: raise ValueError(\"...\")")


def check_conv2d_input_grad(conv2d_input_grad, size, K, stride, padding, dtype=torch.float32, seed=0):
    """Run one case of conv2d_input_grad, compared with autograd.

    conv2d_input_grad: the student's function. size: (H, W) of X, or an int. K: (kh, kw) tensor.
    stride, padding: int or pair. dtype: of X and dY. seed: for the random X and dY.
    Calls conv2d_input_grad(dY, K, size, stride, padding) with NO_GRAD switched off, checks
    the gradient against autograd (naming the usual mistakes, GRAD_RULE for a wrong shape),
    that dY and K are unchanged, and the adjoint identity <X, grad> == <conv2d(X), dY>.
    Returns None.
    """
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(pair(size), generator=g, dtype=dtype)
    Y = F.conv2d(X[None, None], K[None, None], stride=stride, padding=padding)[0, 0]
    dY = torch.randn(Y.shape, generator=g, dtype=dtype)
    dY0, K0 = dY.clone(), K.clone()
    name = f"conv2d_input_grad(dY, K, {size}, stride={stride}, padding={padding}) for K {tuple(K.shape)}, {dtype}"
    expected = autograd_input_grad(dY, K, size, stride, padding)
    mistakes = input_grad_mistakes(dY, K, size, stride, padding)
    with check.forbid(NO_GRAD):
        out = conv2d_input_grad(dY, K, size, stride, padding)
    close_transposed(out, expected, name, mistakes, GRAD_RULE)
    check.close(dY, dY0, name=f"dY after {name} (your function must not change its input)", rtol=0, atol=0)
    _unchanged(K, K0, "K", name)
    check.close((X * out).sum().item(), (Y * dY).sum().item(), rtol=1e-4, atol=1e-4,
                name=f"<X, {name}>, which must equal <conv2d(X), dY>")


def check_generator_summary(generator_summary, nz, ngf, nc):
    """Run one case of generator_summary, compared with the measured model.

    generator_summary: the student's function. nz, ngf, nc: ints.
    Calls generator_summary(nz, ngf, nc) with NO_BUILD switched off (the numbers must come
    from the formulas), then checks the shapes and the parameter count exactly against
    measured_generator(nz, ngf, nc), naming the usual slips. Returns None.
    """
    call = f"generator_summary(nz={nz}, ngf={ngf}, nc={nc})"
    shapes, n_params = measured_generator(nz, ngf, nc)
    try:
        with check.forbid(NO_BUILD):
            answer = generator_summary(nz, ngf, nc)
    except check.ForbiddenCall as e:
        raise check.ForbiddenCall(
            f"{call}: {e}\n  Here the numbers must come from the formulas: creating layers "
            f"(nn.ConvTranspose2d, nn.BatchNorm2d) and running transposed convolutions are switched off.") from None
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise check.CheckFailure(f"{call} must return a pair (shapes, n_params); got {answer!r:.100}")
    check.equal(answer[0], shapes, name=f"the shapes of {call}",
                mistakes={"the shapes include the batch axis: give (C, H, W) for one noise vector":
                          [(1,) + s for s in shapes]})
    check.equal(answer[1], n_params, name=f"the parameter count of {call}",
                mistakes=param_count_mistakes(nz, ngf, nc))


def check_dcgan_generator(dcgan_generator, nz, ngf, nc, seed):
    """Run one case of dcgan_generator, compared with helpers.models.dcgan_generator.

    dcgan_generator: the student's function. nz, ngf, nc: ints. seed: for the course model's
    weights and the noise z.
    Calls dcgan_generator(nz, ngf, nc) with NO_HELPERS switched off; the result must be an
    nn.Sequential with the course model's layers (describe_layers, the usual mistakes named)
    and parameter count; loaded with the course model's weights (load_state_dict, so that it
    also works on the grader's proxy of the model), in eval mode, it must give the course
    model's output on z of shape (2, nz, 1, 1). Returns None.
    """
    call = f"dcgan_generator(nz={nz}, ngf={ngf}, nc={nc})"
    torch.manual_seed(seed)
    ref = helpers.models.dcgan_generator(nz, ngf, nc)
    with check.forbid(NO_HELPERS):
        G = dcgan_generator(nz, ngf, nc)
    if not isinstance(G, nn.Sequential):
        raise check.CheckFailure(f"{call} must return an nn.Sequential; got {G.__class__.__name__}.")
    expected = describe_layers(ref)
    check.equal(describe_layers(G), expected, name=f"the layers of {call}", mistakes=layer_mistakes(expected, nc))
    check.equal(sum(p.numel() for p in G.parameters()), sum(p.numel() for p in ref.parameters()),
                name=f"the number of parameters of {call}")
    z = torch.randn(2, nz, 1, 1, generator=torch.Generator().manual_seed(seed))
    names = [name for name, _ in G.named_parameters()]
    G.load_state_dict({name: p.detach().clone() for name, p in zip(names, ref.parameters())}, strict=False)
    with torch.no_grad():
        G.eval()
        ref.eval()
        out = G(z)
        check.shape(out, (2, nc, 64, 64), name=f"{call} on z of shape (2, {nz}, 1, 1)")
        check.close(out, ref(z), name=f"{call} with the course model's weights, on z of shape (2, {nz}, 1, 1)",
                    rtol=1e-4, atol=1e-5)
