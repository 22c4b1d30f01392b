"""helpers.transposed (chapter 5) against F.conv_transpose2d, nn.ConvTranspose2d and the conv matrix."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import helpers
from helpers import transposed
from helpers._guard import ForbiddenCall, forbid
from kernel_testing import DTYPES, close, rand

TRANSPOSED = [helpers.conv_transpose2d, helpers.conv_transpose2d_zero_insert]


# ---------------------------------------------------------------- fixed vectors

@pytest.mark.parametrize("m, f, s, p, expected", [
    (5, 4, 1, 0, 8), (5, 4, 1, 1, 6), (5, 3, 1, 1, 5), (5, 3, 1, 2, 3),
    (2, 3, 2, 0, 5), (2, 3, 2, 1, 3),
])
def test_curriculum_output_sizes(m, f, s, p, expected):
    assert helpers.conv_transpose_output_size(m, f, s, p) == expected
    layer = torch.nn.ConvTranspose2d(2, 3, f, s, p, bias=False)
    X = torch.randn(1, 2, m, m)
    assert layer(X).shape[-2:] == (expected, expected)
    for fn in TRANSPOSED:
        assert fn(X, layer.weight.detach(), s, p).shape == (1, 3, expected, expected)


def test_dcgan_generator_sizes():
    m = helpers.conv_transpose_output_size(1, 4, 1, 0)
    assert m == 4
    sizes = [m]
    for _ in range(4):
        sizes.append(helpers.conv_transpose_output_size(sizes[-1], 4, 2, 1))
    assert sizes == [4, 8, 16, 32, 64]


def test_output_padding():
    for op in range(3):
        layer = torch.nn.ConvTranspose2d(1, 1, 3, 3, 1, output_padding=op)
        assert layer(torch.randn(1, 1, 4, 4)).shape[-1] == helpers.conv_transpose_output_size(
            4, 3, 3, 1, output_padding=op)


def test_conv_matrix_3x3_on_4x4():
    K = torch.arange(1.0, 10.0).view(3, 3)
    C = helpers.conv_matrix(K, 4)
    assert C.shape == (4, 16)
    assert C[0].tolist() == [1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9, 0, 0, 0, 0, 0]
    assert C[3].tolist() == [0, 0, 0, 0, 0, 1, 2, 3, 0, 4, 5, 6, 0, 7, 8, 9]
    x = torch.randn(4, 4)
    torch.testing.assert_close(C @ x.flatten(), helpers.corr2d(x, K).flatten())


def test_single_channel_scatter_add_example():
    X = torch.tensor([[0.0, 1], [2, 3]])
    K = torch.tensor([[0.0, 1], [2, 3]])
    for fn in TRANSPOSED:
        assert fn(X, K).tolist() == [[0, 0, 1], [0, 4, 6], [4, 12, 9]]
    assert helpers.conv_transpose2d(X, K, stride=2).shape == (4, 4)


# ---------------------------------------------------------------- properties

@st.composite
def transposed_case(draw):
    """A valid transposed-convolution setting: the output has at least one cell."""
    N, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ph = draw(st.integers(0, ((H - 1) * sh + kh - 1) // 2))
    pw = draw(st.integers(0, ((W - 1) * sw + kw - 1) // 2))
    square = kh == kw and sh == sw and ph == pw
    pick = (lambda a, b: draw(st.sampled_from([a, (a, b)]))) if square else (lambda a, b: (a, b))
    return dict(N=N, c_in=c_in, c_out=c_out, H=H, W=W, kh=kh, kw=kw, stride=pick(sh, sw),
                padding=pick(ph, pw), rank=draw(st.sampled_from([2, 3, 4])),
                dtype=draw(DTYPES), seed=draw(st.integers(0, 2**31)))


def transposed_inputs(c):
    if c["rank"] == 2:           # the single-channel teaching case
        X = rand((1, 1, c["H"], c["W"]), c["dtype"], c["seed"])
        K = rand((1, 1, c["kh"], c["kw"]), c["dtype"], c["seed"] + 1)
    else:
        X = rand((c["N"], c["c_in"], c["H"], c["W"]), c["dtype"], c["seed"])
        K = rand((c["c_in"], c["c_out"], c["kh"], c["kw"]), c["dtype"], c["seed"] + 1)
    return X, K


@pytest.mark.parametrize("fn", TRANSPOSED, ids=lambda f: f.__name__)
@given(c=transposed_case())
def test_conv_transpose2d_matches_F(fn, c):
    X, K = transposed_inputs(c)
    expected = F.conv_transpose2d(X, K, stride=c["stride"], padding=c["padding"])
    if c["rank"] == 2:
        close(fn(X[0, 0], K[0, 0], c["stride"], c["padding"]), expected[0, 0])
    elif c["rank"] == 3:
        close(fn(X[0], K, stride=c["stride"], padding=c["padding"]), expected[0])
    else:
        close(fn(X, K, stride=c["stride"], padding=c["padding"]), expected)
    sh, sw = (c["stride"],) * 2 if isinstance(c["stride"], int) else c["stride"]
    ph, pw = (c["padding"],) * 2 if isinstance(c["padding"], int) else c["padding"]
    assert expected.shape[-2:] == (helpers.conv_transpose_output_size(c["H"], c["kh"], sh, ph),
                                   helpers.conv_transpose_output_size(c["W"], c["kw"], sw, pw))


@given(h=st.integers(1, 6), w=st.integers(1, 6), kh=st.integers(1, 3), kw=st.integers(1, 3),
       dtype=DTYPES, seed=st.integers(0, 2**31))
def test_conv_matrix_and_its_transpose(h, w, kh, kw, dtype, seed):
    kh, kw = min(kh, h), min(kw, w)
    K = rand((kh, kw), dtype, seed)
    x = rand((h, w), dtype, seed + 1)
    y = rand((h - kh + 1, w - kw + 1), dtype, seed + 2)
    C = helpers.conv_matrix(K, (h, w))
    assert C.shape == ((h - kh + 1) * (w - kw + 1), h * w) and C.dtype == dtype
    close(C @ x.flatten(), F.conv2d(x[None, None], K[None, None]).flatten())
    # transposed convolution is C.T: the adjoint of the convolution
    close(C.T @ y.flatten(), helpers.conv_transpose2d(y, K).flatten())
    close(C.T @ y.flatten(), F.conv_transpose2d(y[None, None], K[None, None]).flatten())


@given(transposed_case())
def test_transposed_conv_is_the_input_gradient_of_conv(c):
    # <conv2d(x, K), y> == <x, conv_transpose2d(y, K)>, with K read as conv2d weights
    X, K = transposed_inputs(c)
    Y = helpers.conv_transpose2d(X, K, c["stride"], c["padding"])   # (N, c_out, H', W')
    Z = rand(Y.shape, c["dtype"], c["seed"] + 3)
    # conv2d with weights K (c_in, c_out, ...) maps c_out channels back to c_in
    back = F.conv2d(Z, K, stride=c["stride"], padding=c["padding"])
    assert back.shape == X.shape
    close((Y * Z).sum(), (X * back).sum())


# ---------------------------------------------------------------- NumPy, dtypes, tripwire

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_in_numpy_out(dtype):
    X = np.arange(9).reshape(3, 3).astype(dtype)
    K = np.ones((2, 2), dtype=dtype)
    for out in [helpers.conv_matrix(K, 3), helpers.conv_transpose2d(X, K, 2, 1),
                helpers.conv_transpose2d_zero_insert(X, K, 2, 1)]:
        assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert np.array_equal(helpers.conv_transpose2d(X, K, 2, 1),
                          helpers.conv_transpose2d_zero_insert(X, K, 2, 1))


@pytest.mark.parametrize("name", transposed.__all__)
def test_kernels_are_guarded(name):
    fn = getattr(helpers, name)
    assert fn is getattr(transposed, name) and getattr(fn, "__reference__", False)
    with forbid(name), pytest.raises(ForbiddenCall, match=name):
        fn(torch.ones(2, 2), torch.ones(2, 2))
