"""helpers.pool (chapter 3) against the curriculum's vectors, F.max_pool2d / F.avg_pool2d and autograd."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import helpers
from helpers import pool
from helpers._guard import ForbiddenCall, forbid
from kernel_testing import DTYPES, rand
from kernel_testing import close as _close


def close(actual, expected):
    _close(actual, expected, atol=1e-5)


X1D = [4, 9, 3, 0, 3, 9, 7, 3, 7, 3]


# ---------------------------------------------------------------- fixed vectors

def image_1d(dtype=torch.float32):
    return torch.tensor([[X1D]], dtype=dtype)       # (C=1, H=1, W=10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int64])
@pytest.mark.parametrize("kwargs, expected", [
    ({}, [9, 9, 7]),
    ({"s": 1}, [9, 9, 3, 9, 9, 9, 7, 7]),
    ({"s": 1, "p": (0, 1)}, [9, 9, 9, 3, 9, 9, 9, 7, 7, 7]),
])
def test_max_pool_curriculum_vectors(dtype, kwargs, expected):
    out = helpers.max_pool2d(image_1d(dtype), (1, 3), **kwargs)
    assert out.dtype == dtype and out.shape == (1, 1, len(expected))
    assert out.flatten().tolist() == expected


@pytest.mark.parametrize("kwargs, expected", [
    ({}, [5.3333, 4.0, 5.6667]),
    ({"s": 1}, [5.3333, 4, 2, 4, 6.3333, 6.3333, 5.6667, 4.3333]),
    ({"s": 1, "p": (0, 1)}, [4.3333, 5.3333, 4, 2, 4, 6.3333, 6.3333, 5.6667, 4.3333, 3.3333]),
])
def test_avg_pool_curriculum_vectors(kwargs, expected):
    out = helpers.avg_pool2d(image_1d(), (1, 3), **kwargs)
    torch.testing.assert_close(out.flatten(), torch.tensor(expected), atol=1e-4, rtol=0)


@pytest.mark.parametrize("kwargs, shape", [
    ({"f": 2}, (3, 4, 5, 10)), ({"f": 2, "s": 1}, (3, 4, 9, 19)),
    ({"f": 3, "s": 1, "p": 1}, (3, 4, 10, 20)),
])
def test_pool_curriculum_shapes(kwargs, shape):
    X = torch.randn(3, 4, 10, 20)
    assert helpers.max_pool2d(X, **kwargs).shape == shape
    assert helpers.avg_pool2d(X, **kwargs).shape == shape
    assert helpers.max_pool2d(torch.randn(3, 24, 24), 2, 2).shape == (3, 12, 12)


def test_max_pool_backward_example_and_ties():
    X = torch.tensor([[[[1.0, 2], [4, 3]]]])
    dX = helpers.max_pool2d_backward(torch.ones(1, 1, 1, 1), X, 2)
    assert dX.tolist() == [[[[0, 0], [1, 0]]]]
    # a tie: the first maximum in row-major order gets the gradient, as in PyTorch
    X = torch.tensor([[[[5.0, 1], [5, 5]]]], requires_grad=True)
    F.max_pool2d(X, 2).backward(torch.full((1, 1, 1, 1), 3.0))
    dX = helpers.max_pool2d_backward(torch.full((1, 1, 1, 1), 3.0), X.detach(), 2)
    assert dX.tolist() == [[[[3, 0], [0, 0]]]]
    assert torch.equal(dX, X.grad)


def test_max_pool_backward_sums_overlaps():
    X = torch.tensor([[[[0.0, 9, 0, 0]]]])           # 9 wins two overlapping windows
    dX = helpers.max_pool2d_backward(torch.tensor([[[[1.0, 2.0, 5.0]]]]), X, (1, 2), 1)
    assert dX.tolist() == [[[[0, 3, 5, 0]]]]


# ---------------------------------------------------------------- properties

@st.composite
def pool_case(draw):
    """A valid pooling setting: p <= f/2, the window fits the padded input."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    H = max(draw(st.integers(1, 9)), kh - 2 * ph)
    W = max(draw(st.integers(1, 9)), kw - 2 * pw)
    square = kh == kw and ph == pw
    f = draw(st.sampled_from([kh, (kh, kw)] if square else [(kh, kw)]))
    p = draw(st.sampled_from([ph, (ph, pw)] if square else [(ph, pw)]))
    s = draw(st.one_of(st.none(), st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    return dict(shape=(N, C, H, W), f=f, s=s, p=p, batched=draw(st.booleans()),
                dtype=draw(DTYPES), seed=draw(st.integers(0, 2**31)))


def pool_input(c):
    X = rand(c["shape"], c["dtype"], c["seed"])
    return X if c["batched"] else X[0]


def torch_args(c):
    return dict(kernel_size=c["f"], stride=c["s"], padding=c["p"])


@given(pool_case())
def test_max_pool2d_matches_F(c):
    X = pool_input(c)
    close(helpers.max_pool2d(X, c["f"], c["s"], c["p"]), F.max_pool2d(X, **torch_args(c)))


@given(pool_case(), st.booleans())
def test_avg_pool2d_matches_F(c, count_include_pad):
    X = pool_input(c)
    close(helpers.avg_pool2d(X, c["f"], c["s"], c["p"], count_include_pad=count_include_pad),
          F.avg_pool2d(X, **torch_args(c), count_include_pad=count_include_pad))


@given(pool_case())
def test_max_pool2d_backward_matches_autograd(c):
    X = pool_input(c).requires_grad_()
    out = F.max_pool2d(X, **torch_args(c))
    dout = rand(out.shape, c["dtype"], c["seed"] + 1)
    out.backward(dout)
    close(helpers.max_pool2d_backward(dout, X.detach(), c["f"], c["s"], c["p"]), X.grad)


@given(pool_case())
def test_avg_pool_is_linear_max_pool_is_not_additive(c):
    X = pool_input(c)
    Y = rand(X.shape, c["dtype"], c["seed"] + 7)
    args = (c["f"], c["s"], c["p"])
    close(helpers.avg_pool2d(2 * X - Y, *args),
          2 * helpers.avg_pool2d(X, *args) - helpers.avg_pool2d(Y, *args))
    assert (helpers.max_pool2d(X + Y, *args)
            <= helpers.max_pool2d(X, *args) + helpers.max_pool2d(Y, *args) + 1e-6).all()


# ---------------------------------------------------------------- NumPy, dtypes, tripwire

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numpy_in_numpy_out(dtype):
    X = np.arange(32, dtype=dtype).reshape(2, 4, 4)
    for out in [helpers.max_pool2d(X, 2), helpers.avg_pool2d(X, 2, 1, 1),
                helpers.max_pool2d_backward(np.ones((2, 2, 2), dtype=dtype), X, 2)]:
        assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert helpers.max_pool2d(X, 2)[0].tolist() == [[5, 7], [13, 15]]


def test_integer_max_pool_pads_with_the_smallest_integer():
    X = torch.full((1, 3, 3), -7, dtype=torch.int32)
    out = helpers.max_pool2d(X, 3, 1, 1)
    assert out.dtype == torch.int32 and (out == -7).all()


@pytest.mark.parametrize("name", ["max_pool2d", "avg_pool2d", "max_pool2d_backward"])
def test_kernels_are_guarded(name):
    fn = getattr(helpers, name)
    assert fn is getattr(pool, name) and getattr(fn, "__reference__", False)
    with forbid(name), pytest.raises(ForbiddenCall, match=name):
        fn(torch.ones(1, 2, 2), torch.ones(1, 2, 2), 2)
