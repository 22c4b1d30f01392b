"""helpers.im2col (chapter 4) against F.unfold, F.fold and F.conv2d."""
import inspect

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import helpers
from helpers._guard import ForbiddenCall, forbid
from kernel_testing import DTYPES, close, rand


@st.composite
def window_case(draw):
    """A valid window setting: the kernel fits the padded input."""
    N, C = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    H = max(draw(st.integers(1, 10)), kh - 2 * ph)
    W = max(draw(st.integers(1, 10)), kw - 2 * pw)
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    square = kh == kw and ph == pw and sh == sw
    pick = (lambda a, b: draw(st.sampled_from([a, (a, b)]))) if square else (lambda a, b: (a, b))
    return dict(N=N, C=C, H=H, W=W, f=pick(kh, kw), s=pick(sh, sw), p=pick(ph, pw),
                batched=draw(st.booleans()), dtype=draw(DTYPES),
                seed=draw(st.integers(0, 2**31)))


def image(c):
    X = rand((c["N"], c["C"], c["H"], c["W"]), c["dtype"], c["seed"])
    return X if c["batched"] else X[0]


def fargs(c):
    return dict(kernel_size=c["f"], stride=c["s"], padding=c["p"])


@given(window_case())
def test_im2col_matches_unfold(c):
    X = image(c)
    # F.unfold takes only batched input: compare with a batch of one
    expected = F.unfold(X if c["batched"] else X[None], **fargs(c))
    out = helpers.im2col(X, c["f"], c["s"], c["p"])
    assert torch.equal(out if c["batched"] else out[None], expected)


@given(window_case())
def test_col2im_matches_fold_and_is_the_adjoint(c):
    X = image(c)
    cols = helpers.im2col(X, c["f"], c["s"], c["p"])
    Y = rand(cols.shape, c["dtype"], c["seed"] + 1)
    out = helpers.col2im(Y, (c["H"], c["W"]), c["f"], c["s"], c["p"])
    expected = F.fold(Y if c["batched"] else Y[None], (c["H"], c["W"]), **fargs(c))
    close(out if c["batched"] else out[None], expected)
    # <im2col(x), y> == <x, col2im(y)>
    close((cols * Y).sum(), (X * out).sum())


@given(window_case(), st.integers(1, 4), st.booleans())
def test_conv2d_im2col_matches_F(c, c_out, bias):
    X = image(c)
    kh, kw = (c["f"],) * 2 if isinstance(c["f"], int) else c["f"]
    Wt = rand((c_out, c["C"], kh, kw), c["dtype"], c["seed"] + 1)
    b = rand((c_out,), c["dtype"], c["seed"] + 2) if bias else None
    close(helpers.conv2d_im2col(X, Wt, b, stride=c["s"], padding=c["p"]),
          F.conv2d(X, Wt, b, stride=c["s"], padding=c["p"]))


def test_curriculum_example_shapes():
    X = torch.randn(1, 10, 37, 37)
    Wt = torch.randn(20, 10, 5, 5)
    assert helpers.im2col(X, 5, 2).shape == (1, 250, 289)
    assert helpers.im2col(X[0], 5, 2).shape == (250, 289)
    assert helpers.conv2d_im2col(X, Wt, stride=2).shape == (1, 20, 17, 17)
    counts = helpers.col2im(helpers.im2col(torch.ones(1, 1, 3, 3), 2), 3, 2)
    assert counts.tolist() == [[[[1, 2, 1], [2, 4, 2], [1, 2, 1]]]]


def test_im2col_does_not_call_unfold():
    X = torch.randn(2, 3, 6, 6)
    with forbid(F.unfold, F.fold, F.conv2d, torch.conv2d):
        helpers.im2col(X, 3, 2, 1)
        helpers.col2im(helpers.im2col(X, 3, 2, 1), 6, 3, 2, 1)
        helpers.conv2d_im2col(X, torch.randn(4, 3, 3, 3), stride=2, padding=1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_in_numpy_out(dtype):
    X = np.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5).astype(dtype)
    Wt = np.ones((4, 3, 3, 3), dtype=dtype)
    for out in [helpers.im2col(X, 3), helpers.col2im(helpers.im2col(X, 3), 5, 3),
                helpers.conv2d_im2col(X, Wt, padding=1)]:
        assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert np.array_equal(helpers.conv2d_im2col(X, Wt, padding=1), helpers.conv2d(X, Wt, padding=1))


def test_helpers_im2col_is_the_kernel_whatever_was_imported_first():
    import helpers.columns  # the module's name differs from the kernel's, so nothing shadows
    X = torch.randn(1, 2, 4, 4)
    assert torch.equal(helpers.im2col(X, 2), helpers.columns.im2col(X, 2))
    assert list(inspect.signature(helpers.im2col).parameters) == ["X", "f", "s", "p"]
    with forbid("im2col"), pytest.raises(ForbiddenCall, match="im2col"):
        helpers.im2col(X, 2)


@pytest.mark.parametrize("name", ["col2im", "conv2d_im2col"])
def test_kernels_are_guarded(name):
    fn = getattr(helpers, name)
    assert getattr(fn, "__reference__", False)
    with forbid(name), pytest.raises(ForbiddenCall, match=name):
        fn(torch.ones(1, 4, 1), 2, 2)
