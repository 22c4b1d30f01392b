"""Chapter 2 (padding and stride): what its test cells share.

    from helpers.exercises import padding_stride as ex
    ex.check_conv_output_size(conv_output_size, 6, 2, 0, 1, expected=5)

Presets (for `check.forbid`):
    NO_CONV_FOR_SIZE      for conv_output_size: the kernel conv_output_size, F.conv1d, F.conv2d, F.conv3d
    NO_PAD                for pad2d: the kernel pad2d, F.pad, torch.constant_pad_nd and every
                          padding function of torch._C._nn (reflection_pad2d, ...)
    NO_CONV               for conv2d: the course's convolution kernels (conv2d, conv2d_im2col,
                          corr2d, ..., im2col), F.conv2d, F.unfold, Tensor.unfold, and every
                          callable of torch and torch._C._nn whose name says conv, im2col or col2im

Small tools:
    pair(v)               an int or a pair as a pair: pair(1) == (1, 1)
    shape_after(in_shape, layer)  the (C, H, W) that `layer` gives for a (C, H, W) input
    conv_shapes(in_shape, layers) the (C, H, W) before and after each conv of `layers`

Mistake builders, each returning {description: wrong value} for `mistakes=`:
    conv_output_size_mistakes(n, f, p, s)
    pad2d_mistakes(X, ph, pw)
    conv2d_mistakes(X, W, b, stride, padding)
    output_shape_mistakes(name)
    stack_shapes_mistakes(expected_shapes)
    n_features_mistakes()

Checks, one case each; the student's function comes first and is called inside
`check.forbid(preset)`:
    check_conv_output_size(conv_output_size, n, f, p, s, expected, name=None)
    check_value_error(conv_output_size, n, f, p, s, why)
    check_pad2d(pad2d, X, p, expected, name) -> the padded tensor
    check_conv2d(conv2d, X, W, b, stride, padding, expected, name, **tol)
    check_stack_layers(stack, layers)
The tensor checks also check that the function left its inputs unchanged.
"""
import torch
import torch.nn.functional as F
from torch import nn

from helpers import check
from helpers.exercises import must_raise_value_error, pair, torch_functions

__all__ = [
    "NO_CONV_FOR_SIZE", "NO_PAD", "NO_CONV",
    "pair", "shape_after", "conv_shapes",
    "conv_output_size_mistakes", "pad2d_mistakes", "conv2d_mistakes", "output_shape_mistakes",
    "stack_shapes_mistakes", "n_features_mistakes",
    "check_conv_output_size", "check_value_error", "check_pad2d", "check_conv2d", "check_stack_layers",
]

# ---------------------------------------------------------------- presets

NO_CONV_FOR_SIZE = ("conv_output_size", F.conv1d, F.conv2d, F.conv3d)
NO_PAD = ("pad2d", F.pad, torch.constant_pad_nd,
          *(getattr(torch._C._nn, name) for name in dir(torch._C._nn) if "pad" in name))
NO_CONV = ("conv2d", "conv2d_im2col", "corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1d", "im2col",
           F.conv2d, torch.conv2d, F.unfold, torch.Tensor.unfold,
           *torch_functions(r"conv|im2col|col2im", exclude=r"^_convert"))


# ---------------------------------------------------------------- small tools

def shape_after(in_shape, layer):
    """Run `layer` on a zero image of shape in_shape = (C, H, W); PyTorch does the bookkeeping.

    layer: a function of a (1, C, H, W) batch, e.g. lambda x: F.conv2d(x, w, stride=2).
    Returns the output's (C, H, W) as a tuple of ints.
    """
    return tuple(layer(torch.zeros(1, *in_shape)).shape[1:])


def conv_shapes(in_shape, layers):
    """The shapes through a stack of unpadded conv layers, run by PyTorch on a zero image.

    in_shape: (C, H, W). layers: [(in_channels, out_channels, kernel, stride), ...].
    Returns [in_shape, shape after conv 1, after conv 2, ...], each a (C, H, W) tuple.
    """
    x = torch.zeros(1, *in_shape)
    shapes = [tuple(x.shape[1:])]
    for c_in, c_out, f, s in layers:
        x = F.conv2d(x, torch.zeros(c_out, c_in, f, f), stride=s)
        shapes.append(tuple(x.shape[1:]))
    return shapes


# ---------------------------------------------------------------- mistakes

def conv_output_size_mistakes(n, f, p, s):
    """The usual slips of conv_output_size(n, f, p, s) and what they give here.

    Returns {description: wrong size (int)}, only the slips that differ from the right
    answer (slips giving the same wrong size share one description, joined by "; or ").
    """
    right = (n + 2 * p - f) // s + 1
    slips = [
        ("the +1 is missing: (n + 2p - f) // s counts the jumps; add 1 for the first window",
         (n + 2 * p - f) // s),
        ("rounded up (ceil) instead of down: a window that would stick out of the padded "
         "input is not computed", -(-(n + 2 * p - f) // s) + 1),
        ("the padding is counted once: p zeros go on EACH side, so the axis grows by 2p",
         (n + p - f) // s + 1),
        ("the stride is ignored: (n + 2p - f) must be divided by s", n + 2 * p - f + 1),
    ]
    by_value = {}
    for why, value in slips:
        if value != right:
            by_value.setdefault(value, []).append(why)
    return {"; or ".join(whys): value for value, whys in by_value.items()}


def pad2d_mistakes(X, ph, pw):
    """What the usual slips of pad2d give for X padded by (ph, pw).

    X: (..., H, W) tensor. Returns {description: wrong padded tensor}: one side only
    (either), all 2p zeros on one side, (ph, pw) swapped.
    """
    return {
        "padding on one side only (bottom and right): p zeros go on EACH side": F.pad(X, (0, pw, 0, ph)),
        "padding on one side only (top and left): p zeros go on EACH side": F.pad(X, (pw, 0, ph, 0)),
        "all 2p zeros on one side: put p before and p after": F.pad(X, (0, 2 * pw, 0, 2 * ph)),
        "(ph, pw) swapped: ph rows go above and below, pw columns left and right": F.pad(X, (ph, ph, pw, pw)),
    }


def conv2d_mistakes(X, W, b, stride, padding):
    """What the usual slips of conv2d give here, computed with F.conv2d.

    X: (N, C_in, H, W), W: (C_out, C_in, kh, kw), b: (C_out,) or None; stride, padding:
    ints or pairs. Returns {description: wrong output}: a flipped kernel, the bias ignored,
    padding on one side, the stride on one axis or swapped, padding swapped, the last
    output row and/or column missing. A slip impossible for these shapes is left out.
    """
    (sh, sw), (ph, pw) = pair(stride), pair(padding)
    right = F.conv2d(X, W, b, (sh, sw), (ph, pw))
    slips = {
        "the kernel is flipped: deep-learning convolution is cross-correlation, "
        "use W as it is": lambda: F.conv2d(X, W.flip(-2, -1), b, (sh, sw), (ph, pw)),
        "the bias is ignored: add b[o] to every value of output channel o":
            lambda: F.conv2d(X, W, None, (sh, sw), (ph, pw)),
        "padding on one side only (bottom and right): p zeros go on EACH side":
            lambda: F.conv2d(F.pad(X, (0, pw, 0, ph)), W, b, (sh, sw)),
        "padding on one side only (top and left): p zeros go on EACH side":
            lambda: F.conv2d(F.pad(X, (pw, 0, ph, 0)), W, b, (sh, sw)),
        "the stride is applied along the height only: the width moves by sw":
            lambda: F.conv2d(X, W, b, (sh, 1), (ph, pw)),
        "the stride is applied along the width only: the height moves by sh":
            lambda: F.conv2d(X, W, b, (1, sw), (ph, pw)),
        "stride (sh, sw) swapped: the first number is for the height (rows)":
            lambda: F.conv2d(X, W, b, (sw, sh), (ph, pw)),
        "padding (ph, pw) swapped: the first number is for the height (rows)":
            lambda: F.conv2d(X, W, b, (sh, sw), (pw, ph)),
        "the last output row and column are missing: the loop stops one position "
        "early (remember the +1 in the output size)": lambda: right[..., :-1, :-1],
        "the last output row is missing: the loop over i stops one position early "
        "(remember the +1)": lambda: right[..., :-1, :],
        "the last output column is missing: the loop over j stops one position early "
        "(remember the +1)": lambda: right[..., :, :-1],
    }
    found = {}
    for why, make in slips.items():
        try:
            found[why] = make()
        except RuntimeError:   # this slip is impossible for these shapes
            pass
    return found


_HWC = "this is height x width x channels; write (C, H, W), channels first"
_CHANNELS = "the number of output channels is the number of filters"


def output_shape_mistakes(name):
    """The usual slips of the output-shape exercise.

    name: "shape_a", "shape_b", "shape_c" or "shape_d".
    Returns {description: wrong (C, H, W) tuple}.
    """
    return {
        "shape_a": {"the +1 is missing, or the padding is left out: floor((64 + 2*1 - 6)/2) + 1": (10, 30, 30),
                    _CHANNELS + " (ten), not the input's 3": (3, 31, 31),
                    _HWC: (31, 31, 10),
                    "the stride is ignored: divide (n + 2p - f) by s = 2": (10, 61, 61)},
        "shape_b": {"the +1 is missing: (17 - 5)/1 + 1": (10, 12, 12),
                    _CHANNELS + " (ten), not the input's 8": (8, 13, 13),
                    _HWC: (13, 13, 10)},
        "shape_c": {"the +1 is missing: (24 - 2)/2 + 1": (3, 11, 11),
                    "the stride is ignored: the pooling window jumps by 2": (3, 23, 23),
                    _HWC: (12, 12, 3),
                    "pooling keeps the number of channels": (1, 12, 12)},
        "shape_d": {"the answer 3x3x2 is right, but " + _HWC: (3, 3, 2),
                    "the +1 is missing, or the padding is left out: floor((5 + 2*1 - 3)/2) + 1": (2, 2, 2),
                    _CHANNELS + " (two), not the input's 3": (3, 3, 3),
                    "the stride is ignored: divide (n + 2p - f) by s = 2": (2, 5, 5)},
    }[name]


def stack_shapes_mistakes(expected_shapes):
    """The usual slips of stack_shapes in the layer stack exercise.

    expected_shapes: the right list of (C, H, W), input first (conv_shapes gives it).
    Returns {description: wrong list of shapes}: H x W x C, the input shape left out,
    the strides ignored.
    """
    return {
        "the shapes are written height x width x channels; write (C, H, W), channels first":
            [(h, w, c) for c, h, w in expected_shapes],
        "the list must start with the input's shape (3, 39, 39), then one shape per conv layer":
            expected_shapes[1:],
        "the stride of 2 in conv 2 and conv 3 is ignored": [(3, 39, 39), (10, 37, 37), (20, 33, 33), (40, 29, 29)],
    }


def n_features_mistakes():
    """The usual slips of n_features in the layer stack exercise: {description: wrong count}."""
    return {
        "only one channel is counted: multiply by the 40 channels too": 7 * 7,
        "one spatial axis is missing: C * H * W = 40 * 7 * 7": 40 * 7,
        "that is the size after conv 2; the output of conv 3 is what gets flattened": 20 * 17 * 17,
    }


# ---------------------------------------------------------------- checks

def check_conv_output_size(conv_output_size, n, f, p, s, expected, name=None):
    """Run one case of conv_output_size.

    conv_output_size: the student's function. n, f, p, s: ints. expected: the right size.
    name: how messages call it (default: the call, conv_output_size(6, 2, p=0, s=1)).
    Calls conv_output_size(n, f, p=p, s=s) with NO_CONV_FOR_SIZE switched off and checks
    the int exactly, naming the usual slips. Returns None.
    """
    with check.forbid(NO_CONV_FOR_SIZE):
        got = conv_output_size(n, f, p=p, s=s)
    check.equal(got, expected, name=name or f"conv_output_size({n}, {f}, p={p}, s={s})",
                mistakes=conv_output_size_mistakes(n, f, p, s))


def check_value_error(conv_output_size, n, f, p, s, why):
    """Check that conv_output_size(n, f, p=p, s=s) raises ValueError.

    conv_output_size: the student's function. n, f, p, s: an impossible setting.
    why: why it is impossible, for the message ("the stride must be at least 1").
    Raises check.CheckFailure when it returns or raises something else; returns None.
    """
    def run():
        with check.forbid(NO_CONV_FOR_SIZE):
            return conv_output_size(n, f, p=p, s=s)

    must_raise_value_error(f"conv_output_size({n}, {f}, p={p}, s={s})", run, why)


def check_pad2d(pad2d, X, p, expected, name):
    """Run one case of pad2d.

    pad2d: the student's function. X: (..., H, W) tensor. p: int or (ph, pw).
    expected: the right padded tensor. name: how messages call it.
    Calls pad2d(X, p) with NO_PAD switched off, checks that X is unchanged, then the
    output (naming the usual slips). Returns the student's output.
    """
    before, (ph, pw) = X.clone(), pair(p)
    with check.forbid(NO_PAD):
        out = pad2d(X, p)
    check.close(X, before, name=f"X after pad2d(X, {p}) (your function must not change its input)")
    check.close(out, expected, name=name, mistakes=pad2d_mistakes(X, ph, pw))
    return out


def check_conv2d(conv2d, X, W, b, stride, padding, expected, name, **tol):
    """Run one case of conv2d.

    conv2d: the student's function. X: (N, C_in, H, W), W: (C_out, C_in, kh, kw),
    b: (C_out,) or None; stride, padding: ints or pairs. expected: the right output.
    name: how messages call it. tol: rtol / atol for check.close.
    Calls conv2d(X, W, b, stride=stride, padding=padding) with NO_CONV switched off,
    checks the output (naming the usual slips), then that X, W and b are unchanged.
    Returns None.
    """
    before = [(value, value.clone(), what) for value, what in ((X, "X"), (W, "W"), (b, "b")) if value is not None]
    mistakes = conv2d_mistakes(X, W, b, stride, padding)
    with check.forbid(NO_CONV):
        out = conv2d(X, W, b, stride=stride, padding=padding)
    check.close(out, expected, name=name, mistakes=mistakes, **tol)
    for value, value0, what in before:
        check.close(value, value0, rtol=0, atol=0,
                    name=f"{what} after {name} (your function must not change its inputs)")


def check_stack_layers(stack, layers):
    """Check the layers of the student's nn.Sequential against `layers`.

    stack: the student's model. layers: [(in_channels, out_channels, kernel, stride), ...],
    one per nn.Conv2d, no padding. Checks that stack is an nn.Module with len(layers)
    nn.Conv2d layers, each with these channels, kernel size, stride, no padding and no
    dilation. Returns None.
    """
    check.equal(isinstance(stack, nn.Module), True, name="stack is an nn.Module (an nn.Sequential)")
    convs = [m for m in stack.modules() if isinstance(m, nn.Conv2d)]
    check.equal(len(convs), len(layers), name="the number of nn.Conv2d layers in stack")
    for number, (conv, (c_in, c_out, f, s)) in enumerate(zip(convs, layers), start=1):
        padding = (0, 0) if conv.padding == "valid" else conv.padding
        check.equal((conv.in_channels, conv.out_channels), (c_in, c_out),
                    name=f"conv {number}: (in_channels, out_channels)")
        check.equal(conv.kernel_size, (f, f), name=f"conv {number}: kernel_size")
        check.equal(conv.stride, (s, s), name=f"conv {number}: stride")
        check.equal(padding, (0, 0), name=f"conv {number}: padding")
        check.equal(conv.dilation, (1, 1), name=f"conv {number}: dilation (leave it at 1)")
