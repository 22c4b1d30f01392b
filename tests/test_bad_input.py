"""Every bad-input path of every kernel: the right exception, and a message that names the argument.

Each case is (kernel, args, kwargs, exception, names): the message must start
with names[0] (the argument at fault) and mention every other name given
(for mismatches: both sides).
"""
import re

import numpy as np
import pytest
import torch

import helpers

f32, f64 = torch.float32, torch.float64


def t(*shape, dtype=f32):
    return torch.ones(*shape, dtype=dtype)


def case(kernel, args, kwargs=None, exc=ValueError, names=(), id=None):
    return pytest.param(kernel, args, kwargs or {}, exc, names, id=f"{kernel}-{id}")


CASES = [
    # corr2d
    case("corr2d", ([[0, 1], [2, 3]], t(2, 2)), exc=TypeError, names=("X",), id="X list"),
    case("corr2d", (t(3, 3), 2.0), exc=TypeError, names=("K",), id="K number"),
    case("corr2d", (t(3, 4, 5), t(2, 2)), names=("X",), id="X 3-D"),
    case("corr2d", (t(3, 3), t(2)), names=("K",), id="K 1-D"),
    case("corr2d", (t(3, 3), t(4, 2)), names=("K",), id="K too large"),
    case("corr2d", (t(3, 3), t(2, 2, dtype=f64)), exc=TypeError, names=("X", "K"), id="dtypes"),
    case("corr2d", (t(3, 3, dtype=torch.bool), t(2, 2, dtype=torch.bool)), exc=TypeError,
         names=("X",), id="bool"),
    case("corr2d", (t(0, 3), t(1, 1)), names=("X",), id="X empty"),
    # corr2d_multi_in
    case("corr2d_multi_in", (t(3, 3), t(1, 2, 2)), names=("X",), id="X 2-D"),
    case("corr2d_multi_in", (t(2, 3, 3), t(2, 2)), names=("K",), id="K 2-D"),
    case("corr2d_multi_in", (t(2, 3, 3), t(3, 2, 2)), names=("X", "K"), id="channels"),
    case("corr2d_multi_in", (t(2, 3, 3), t(2, 4, 4)), names=("K",), id="K too large"),
    case("corr2d_multi_in", (t(2, 3, 3), t(2, 2, 2, dtype=f64)), exc=TypeError,
         names=("X", "K"), id="dtypes"),
    # corr2d_multi_in_out
    case("corr2d_multi_in_out", (t(1, 2, 3, 3), t(1, 2, 2, 2)), names=("X",), id="X 4-D"),
    case("corr2d_multi_in_out", (t(2, 3, 3), t(2, 2, 2)), names=("K",), id="K 3-D"),
    case("corr2d_multi_in_out", (t(2, 3, 3), t(4, 3, 2, 2)), names=("K",), id="channels"),
    case("corr2d_multi_in_out", (t(2, 3, 3), t(4, 2, 4, 2)), names=("K",), id="K too large"),
    case("corr2d_multi_in_out", (t(2, 3, 3, dtype=f64), t(4, 2, 2, 2)), exc=TypeError,
         names=("X", "K"), id="dtypes"),
    # conv1d
    case("conv1d", ([1, 2, 3], t(2)), exc=TypeError, names=("x",), id="x list"),
    case("conv1d", (t(2, 3), t(2)), names=("x",), id="x 2-D"),
    case("conv1d", (t(6), t(1, 2)), names=("k",), id="k 2-D"),
    case("conv1d", (t(6), t(2)), {"stride": 0}, names=("stride",), id="stride 0"),
    case("conv1d", (t(6), t(2)), {"stride": 1.5}, names=("stride",), id="stride float"),
    case("conv1d", (t(6), t(2)), {"padding": -1}, names=("padding",), id="padding negative"),
    case("conv1d", (t(6), t(2)), {"padding": "1"}, names=("padding",), id="padding str"),
    case("conv1d", (t(2), t(5)), {"padding": 1}, names=("k",), id="k too long"),
    case("conv1d", (t(6), t(2, dtype=f64)), exc=TypeError, names=("x", "k"), id="dtypes"),
    # conv1d_matrix
    case("conv1d_matrix", (t(2, 2), 4), names=("k",), id="k 2-D"),
    case("conv1d_matrix", ([1, 2], 4), exc=TypeError, names=("k",), id="k list"),
    case("conv1d_matrix", (t(2), 4.0), names=("n",), id="n float"),
    case("conv1d_matrix", (t(2), 0), names=("n",), id="n 0"),
    case("conv1d_matrix", (t(3), 2), names=("n",), id="n < len(k)"),
    # conv_params
    case("conv_params", (0, 1, 3, 3), names=("c_in",), id="c_in 0"),
    case("conv_params", (1, 2.5, 3, 3), names=("c_out",), id="c_out float"),
    case("conv_params", (1, 2, "3", 3), names=("kh",), id="kh str"),
    case("conv_params", (1, 2, 3, -1), names=("kw",), id="kw negative"),
    case("conv_params", (1, 2, 3, 3), {"bias": "yes"}, exc=TypeError, names=("bias",), id="bias"),
    # fc_params
    case("fc_params", (0, 1), names=("n_inputs",), id="n_inputs 0"),
    case("fc_params", ((3, 0, 32), 1), names=("n_inputs",), id="n_inputs shape 0"),
    case("fc_params", (3072, 1.5), names=("n_units",), id="n_units float"),
    case("fc_params", (3072, 1), {"bias": 1}, exc=TypeError, names=("bias",), id="bias int"),
    # conv_output_size
    case("conv_output_size", (5, 7), names=("f",), id="f > n"),
    case("conv_output_size", (5, 8, 1), names=("f",), id="f > n + 2p"),
    case("conv_output_size", (5, 3), {"s": 0}, names=("s",), id="s 0"),
    case("conv_output_size", (5, 3), {"s": 1.5}, names=("s",), id="s float"),
    case("conv_output_size", (5, 3), {"p": -1}, names=("p",), id="p negative"),
    case("conv_output_size", (5.0, 3), names=("n",), id="n float"),
    case("conv_output_size", (0, 1), names=("n",), id="n 0"),
    case("conv_output_size", (5, 0), names=("f",), id="f 0"),
    case("conv_output_size", (5, True), names=("f",), id="f bool"),
    # pad2d
    case("pad2d", ([[1, 2]], 1), exc=TypeError, names=("X",), id="X list"),
    case("pad2d", (t(3), 1), names=("X",), id="X 1-D"),
    case("pad2d", (t(3, 3), -1), names=("p",), id="p negative"),
    case("pad2d", (t(3, 3), (1, 2, 3)), names=("p",), id="p triple"),
    case("pad2d", (t(3, 3), 0.5), names=("p",), id="p float"),
    # conv2d and conv2d_im2col share their checks
    *[c for k in ("conv2d", "conv2d_im2col") for c in [
        case(k, ([[1.0]], t(1, 1, 1, 1)), exc=TypeError, names=("X",), id="X list"),
        case(k, (t(3, 3), t(1, 1, 1, 1)), names=("X",), id="X 2-D"),
        case(k, (t(1, 1, 3, 3), t(1, 3, 3)), names=("W",), id="W 3-D"),
        case(k, (t(1, 1, 3, 3), t(2, 1, 1, 1), t(2, 1)), names=("b",), id="b 2-D"),
        case(k, (t(1, 2, 3, 3), t(4, 3, 2, 2)), names=("W",), id="channels"),
        case(k, (t(1, 2, 3, 3), t(4, 2, 2, 2), t(3)), names=("b",), id="b length"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2)), {"stride": 0}, names=("stride",), id="stride 0"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2)), {"stride": (1, 2, 3)}, names=("stride",),
             id="stride triple"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2)), {"padding": -1}, names=("padding",),
             id="padding negative"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2)), {"padding": (0, 1.5)}, names=("padding",),
             id="padding float"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 6, 2)), {"padding": 1}, names=("W",), id="W too large"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2, dtype=f64)), exc=TypeError, names=("X", "W"),
             id="dtypes X W"),
        case(k, (t(1, 1, 3, 3), t(1, 1, 2, 2), t(1, dtype=f64)), exc=TypeError,
             names=("X", "b"), id="dtypes X b"),
    ]],
    # max_pool2d and avg_pool2d share their checks
    *[c for k in ("max_pool2d", "avg_pool2d") for c in [
        case(k, ([[[1.0]]], 1), exc=TypeError, names=("X",), id="X list"),
        case(k, (t(4, 4), 2), names=("X",), id="X 2-D"),
        case(k, (t(1, 4, 4), 0), names=("f",), id="f 0"),
        case(k, (t(1, 4, 4), 2.0), names=("f",), id="f float"),
        case(k, (t(1, 4, 4), 2, 0), names=("s",), id="s 0"),
        case(k, (t(1, 4, 4), 2, 2, -1), names=("p",), id="p negative"),
        case(k, (t(1, 4, 4), 2, 2, 2), names=("p",), id="p > f/2"),
        case(k, (t(1, 1, 10), (1, 3), 1, 1), names=("p",), id="p > f/2 on height"),
        case(k, (t(1, 4, 4), 7, 1, 1), names=("f",), id="f too large"),
    ]],
    case("avg_pool2d", (t(1, 4, 4, dtype=torch.int64), 2), exc=TypeError, names=("X",),
         id="integer X"),
    case("avg_pool2d", (t(1, 4, 4), 2), {"count_include_pad": 0}, exc=TypeError,
         names=("count_include_pad",), id="count_include_pad int"),
    # max_pool2d_backward
    case("max_pool2d_backward", (t(1, 3, 3), t(1, 4, 4), 2), names=("dout",), id="dout shape"),
    case("max_pool2d_backward", (t(1, 2), t(1, 4, 4), 2), names=("dout",), id="dout 2-D"),
    case("max_pool2d_backward", (t(1, 2, 2, dtype=f64), t(1, 4, 4), 2), exc=TypeError,
         names=("dout", "X"), id="dtypes"),
    case("max_pool2d_backward", (t(2, 2), t(4, 4), 2), names=("X",), id="X 2-D"),
    case("max_pool2d_backward", (t(1, 2, 2), t(1, 4, 4), 2, 2, 2), names=("p",), id="p > f/2"),
    case("max_pool2d_backward", ([[[1.0]]], t(1, 2, 2), 2), exc=TypeError, names=("dout",),
         id="dout list"),
    # im2col
    case("im2col", (t(4, 4), 2), names=("X",), id="X 2-D"),
    case("im2col", (np.ones((4, 4)).tolist(), 2), exc=TypeError, names=("X",), id="X list"),
    case("im2col", (t(1, 4, 4), 0), names=("f",), id="f 0"),
    case("im2col", (t(1, 4, 4), 2, 0), names=("s",), id="s 0"),
    case("im2col", (t(1, 4, 4), 2, 1, -1), names=("p",), id="p negative"),
    case("im2col", (t(1, 4, 4), 7, 1, 1), names=("f",), id="f too large"),
    # col2im
    case("col2im", (t(4), 3, 2), names=("cols",), id="cols 1-D"),
    case("col2im", (t(1, 4, 5), 3, 2), names=("cols",), id="cols wrong L"),
    case("col2im", (t(1, 3, 4), 3, 2), names=("cols",), id="cols rows not C*kh*kw"),
    case("col2im", (t(1, 4, 4), 0, 2), names=("input_size",), id="input_size 0"),
    case("col2im", (t(1, 4, 4), (3, 3, 3), 2), names=("input_size",), id="input_size triple"),
    case("col2im", (t(1, 4, 4), 3, 5), names=("f",), id="f too large"),
    case("col2im", (t(1, 4, 4), 3, 2, 0), names=("s",), id="s 0"),
    case("col2im", (t(1, 4, 4), 3, 2, 1, -1), names=("p",), id="p negative"),
    # conv_matrix
    case("conv_matrix", (t(1, 3, 3), 4), names=("K",), id="K 3-D"),
    case("conv_matrix", ([[1.0]], 4), exc=TypeError, names=("K",), id="K list"),
    case("conv_matrix", (t(3, 3), 2), names=("n",), id="n < kernel"),
    case("conv_matrix", (t(3, 3), 0), names=("n",), id="n 0"),
    case("conv_matrix", (t(3, 3), 4.5), names=("n",), id="n float"),
    # conv_transpose2d and conv_transpose2d_zero_insert share their checks
    *[c for k in ("conv_transpose2d", "conv_transpose2d_zero_insert") for c in [
        case(k, ([[1.0]], t(2, 2)), exc=TypeError, names=("X",), id="X list"),
        case(k, (t(5), t(2, 2)), names=("X",), id="X 1-D"),
        case(k, (t(3, 3), t(1, 1, 2, 2)), names=("K",), id="X 2-D with K 4-D"),
        case(k, (t(1, 1, 3, 3), t(2, 2)), names=("K",), id="X 4-D with K 2-D"),
        case(k, (t(1, 2, 3, 3), t(3, 1, 2, 2)), names=("K",), id="channels"),
        case(k, (t(3, 3), t(2, 2)), {"stride": 0}, names=("stride",), id="stride 0"),
        case(k, (t(3, 3), t(2, 2)), {"padding": -1}, names=("padding",), id="padding negative"),
        case(k, (t(2, 2), t(2, 2)), {"padding": 2}, names=("padding",), id="padding too large"),
        case(k, (t(3, 3), t(2, 2, dtype=f64)), exc=TypeError, names=("X", "K"), id="dtypes"),
    ]],
    # conv_transpose_output_size
    case("conv_transpose_output_size", (0, 3), names=("m",), id="m 0"),
    case("conv_transpose_output_size", (2.5, 3), names=("m",), id="m float"),
    case("conv_transpose_output_size", (2, 0), names=("f",), id="f 0"),
    case("conv_transpose_output_size", (2, 3, 0), names=("s",), id="s 0"),
    case("conv_transpose_output_size", (2, 3, 1, -1), names=("p",), id="p negative"),
    case("conv_transpose_output_size", (2, 3, 1, 3), names=("p",), id="p too large"),
    case("conv_transpose_output_size", (2, 3, 2, 0, 2), names=("output_padding",),
         id="output_padding >= s"),
    case("conv_transpose_output_size", (2, 3, 2, 0, -1), names=("output_padding",),
         id="output_padding negative"),
]


@pytest.mark.parametrize("kernel, args, kwargs, exc, names", CASES)
def test_bad_input_names_the_argument(kernel, args, kwargs, exc, names):
    fn = getattr(helpers, kernel)
    with pytest.raises(exc) as info:
        fn(*args, **kwargs)
    assert type(info.value) is exc, f"expected {exc.__name__}, got {type(info.value).__name__}"
    message = str(info.value)
    first, *others = names
    assert re.match(rf"{re.escape(first)}\b", message), message
    for name in others:
        assert re.search(rf"\b{re.escape(name)}\b", message), message


@pytest.mark.parametrize("kernel", sorted(helpers._KERNELS))
def test_every_kernel_has_bad_input_cases(kernel):
    assert any(p.values[0] == kernel for p in CASES)


def test_rank_message_says_expected_and_got():
    with pytest.raises(ValueError, match=re.escape("X must be 2-D (H, W); got shape (3, 4, 5)")):
        helpers.corr2d(torch.ones(3, 4, 5), torch.ones(2, 2))


def test_dtype_message_names_both_dtypes():
    with pytest.raises(TypeError, match="torch.float32.*torch.float64"):
        helpers.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, dtype=torch.float64))


def test_numpy_arrays_are_accepted_but_mixed_dtypes_are_not():
    X = np.ones((3, 3))                     # float64
    assert isinstance(helpers.corr2d(X, np.ones((2, 2))), np.ndarray)
    with pytest.raises(TypeError, match="X and K"):
        helpers.corr2d(X, torch.ones(2, 2))   # float64 vs float32
