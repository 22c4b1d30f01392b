"""helpers.conv (chapters 1-2) against the curriculum's numbers and torch.nn.functional."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import helpers
from helpers import conv
from helpers._guard import ForbiddenCall, forbid
from kernel_testing import DTYPES, close, rand


# ---------------------------------------------------------------- fixed vectors

def test_corr2d_worked_example():
    X = torch.tensor([[0, 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0, 1], [2, 3]])
    out = helpers.corr2d(X, K)
    assert out.dtype == torch.int64
    assert out.tolist() == [[19, 25], [37, 43]]
    assert helpers.corr2d(X.float(), K.float()).tolist() == [[19.0, 25.0], [37.0, 43.0]]


def test_corr2d_plus_image_by_hand():
    X = torch.tensor([[0, 1, 0, 0, 0], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1],
                      [0, 1, 0, 0, 0], [0, 1, 0, 0, 0]])
    bars = {
        "W0": torch.tensor([[0, 0, 0], [1, 1, 1], [0, 0, 0]]),
        "W1": torch.tensor([[0, 1, 0], [0, 1, 0], [0, 1, 0]]),
        "W2": torch.tensor([[1, 0, 0], [0, 1, 0], [0, 0, 1]]),
    }
    for name, K in bars.items():
        expected = F.conv2d(X[None, None].double(), K[None, None].double())[0, 0].long()
        assert torch.equal(helpers.corr2d(X, K), expected), name
    assert helpers.corr2d(X, bars["W1"]).tolist() == [[3, 1, 1], [3, 1, 1], [3, 1, 1]]


def test_conv1d_curriculum_vectors():
    x = torch.tensor([1, 2, 3, 2, 5, 1])
    k = torch.tensor([1, 2])
    assert helpers.conv1d(x, k).tolist() == [5, 8, 7, 12, 7]
    assert helpers.conv1d(x, k, stride=2).tolist() == [5, 7, 7]
    assert helpers.conv1d(x, k, padding=1).tolist() == [2, 5, 8, 7, 12, 7, 1]


def test_conv1d_matrix_difference_filter():
    A = helpers.conv1d_matrix(torch.tensor([-1.0, 1.0]), 5)
    assert A.tolist() == [[-1, 1, 0, 0, 0], [0, -1, 1, 0, 0],
                          [0, 0, -1, 1, 0], [0, 0, 0, -1, 1]]


def test_parameter_counts():
    assert helpers.fc_params(32 * 32 * 3, 1, bias=False) == 3_072
    assert helpers.fc_params((3, 32, 32), 1, bias=False) == 3_072
    assert helpers.fc_params(32 * 32 * 3, 1) == 3_073
    assert helpers.fc_params(1000 * 1000 * 3, 1, bias=False) == 3_000_000
    assert helpers.fc_params(1000 * 1000 * 3, 1000, bias=False) == 3_000_000_000
    assert helpers.fc_params(200 * 200 * 3, 1000, bias=False) == 120_000_000
    assert helpers.conv_params(3, 16, 3, 3) == 16 * (27 + 1)
    assert helpers.conv_params(3, 16, 3, 3, bias=False) == 16 * 27
    # the chapter 6 Net: [432, 16, 1152, 8, ...]
    assert helpers.conv_params(3, 16, 3, 3) == 432 + 16
    assert helpers.conv_params(16, 8, 3, 3) == 1152 + 8


@given(c_in=st.integers(1, 8), c_out=st.integers(1, 8), kh=st.integers(1, 5),
       kw=st.integers(1, 5), bias=st.booleans())
def test_conv_params_matches_nn(c_in, c_out, kh, kw, bias):
    layer = torch.nn.Conv2d(c_in, c_out, (kh, kw), bias=bias)
    assert helpers.conv_params(c_in, c_out, kh, kw, bias=bias) == sum(
        p.numel() for p in layer.parameters())


@given(n_in=st.integers(1, 300), n_units=st.integers(1, 20), bias=st.booleans())
def test_fc_params_matches_nn(n_in, n_units, bias):
    layer = torch.nn.Linear(n_in, n_units, bias=bias)
    assert helpers.fc_params(n_in, n_units, bias=bias) == sum(p.numel() for p in layer.parameters())


def test_conv_output_size_curriculum():
    assert helpers.conv_output_size(64, 6, p=1, s=2) == 31
    assert helpers.conv_output_size(17, 5) == 13
    assert helpers.conv_output_size(24, 2, s=2) == 12
    assert helpers.conv_output_size(5, 3, p=1, s=2) == 3
    # the layer stack 39 -> 37 -> 17 -> 7
    assert helpers.conv_output_size(39, 3) == 37
    assert helpers.conv_output_size(37, 5, s=2) == 17
    assert helpers.conv_output_size(17, 5, s=2) == 7
    for f, p in [(1, 0), (3, 1), (5, 2)]:        # "same" at stride 1
        assert helpers.conv_output_size(10, f, p=p) == 10
    for f, p in [(2, 0), (4, 1)]:                # halving at stride 2
        assert helpers.conv_output_size(10, f, p=p, s=2) == 5


def test_conv2d_curriculum_shapes():
    X = torch.randn(3, 64, 64)
    assert helpers.conv2d(X, torch.randn(10, 3, 6, 6), stride=2, padding=1).shape == (10, 31, 31)
    X = torch.randn(8, 17, 17)
    assert helpers.conv2d(X, torch.randn(10, 8, 5, 5)).shape == (10, 13, 13)
    X = torch.randn(3, 5, 5)
    assert helpers.conv2d(X, torch.randn(2, 3, 3, 3), padding=1, stride=2).shape == (2, 3, 3)


def test_pad2d_example():
    out = helpers.pad2d(torch.ones(2, 2), 1)
    assert out.tolist() == [[0, 0, 0, 0], [0, 1, 1, 0], [0, 1, 1, 0], [0, 0, 0, 0]]
    assert helpers.pad2d(torch.ones(2, 3, dtype=torch.int32), (1, 0)).dtype == torch.int32


# ---------------------------------------------------------------- properties

@st.composite
def corr_case(draw):
    H, W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    kh, kw = draw(st.integers(1, H)), draw(st.integers(1, W))
    return H, W, kh, kw, draw(DTYPES), draw(st.integers(0, 2**31))


@given(corr_case(), st.integers(1, 3), st.integers(1, 3))
def test_corr2d_family_matches_conv2d(case, c_in, c_out):
    H, W, kh, kw, dtype, seed = case
    X = rand((c_in, H, W), dtype, seed)
    K = rand((c_out, c_in, kh, kw), dtype, seed + 1)
    expected = F.conv2d(X[None], K)[0]                     # (c_out, H', W')
    close(helpers.corr2d_multi_in_out(X, K), expected)
    close(helpers.corr2d_multi_in(X, K[0]), expected[0])
    close(helpers.corr2d(X[0], K[0, 0]), F.conv2d(X[None, :1], K[:1, :1])[0, 0])


@given(n=st.integers(1, 12), f=st.integers(1, 5), s=st.integers(1, 4), p=st.integers(0, 3),
       dtype=DTYPES, seed=st.integers(0, 2**31))
def test_conv1d_matches_F(n, f, s, p, dtype, seed):
    if f > n + 2 * p:
        f = n + 2 * p
    x, k = rand((n,), dtype, seed), rand((f,), dtype, seed + 1)
    close(helpers.conv1d(x, k, stride=s, padding=p),
          F.conv1d(x.view(1, 1, n), k.view(1, 1, f), stride=s, padding=p).view(-1))
    assert helpers.conv_output_size(n, f, p, s) == F.conv1d(
        x.view(1, 1, n), k.view(1, 1, f), stride=s, padding=p).shape[-1]


@given(n=st.integers(1, 12), f=st.integers(1, 5), dtype=DTYPES, seed=st.integers(0, 2**31))
def test_conv1d_matrix_matches_F(n, f, dtype, seed):
    f = min(f, n)
    x, k = rand((n,), dtype, seed), rand((f,), dtype, seed + 1)
    A = helpers.conv1d_matrix(k, n)
    assert A.shape == (n - f + 1, n) and A.dtype == dtype
    close(A @ x, F.conv1d(x.view(1, 1, n), k.view(1, 1, f)).view(-1))


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=4), ph=st.integers(0, 3),
       pw=st.integers(0, 3), dtype=DTYPES, seed=st.integers(0, 2**31))
def test_pad2d_matches_F_pad(shape, ph, pw, dtype, seed):
    X = rand(tuple(shape), dtype, seed)
    expected = F.pad(X, (pw, pw, ph, ph))
    assert torch.equal(helpers.pad2d(X, (ph, pw)), expected)
    if ph == pw:
        assert torch.equal(helpers.pad2d(X, ph), expected)


@st.composite
def conv2d_case(draw):
    """A valid conv2d setting: the kernel always fits the padded input."""
    N, c_in, c_out = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4))
    H, W = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    ph, pw = draw(st.integers(0, 2)), draw(st.integers(0, 2))
    kh, kw = draw(st.integers(1, H + 2 * ph)), draw(st.integers(1, W + 2 * pw))
    kh, kw = min(kh, 5), min(kw, 5)
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride = draw(st.sampled_from([(sh, sw), sh]))
    padding = draw(st.sampled_from([(ph, pw), ph]))
    if isinstance(padding, int):
        kw = min(kw, W + 2 * ph)
    return dict(N=N, c_in=c_in, c_out=c_out, H=H, W=W, kh=kh, kw=kw, stride=stride,
                padding=padding, bias=draw(st.booleans()), batched=draw(st.booleans()),
                dtype=draw(DTYPES), seed=draw(st.integers(0, 2**31)))


def conv2d_inputs(c):
    X = rand((c["N"], c["c_in"], c["H"], c["W"]), c["dtype"], c["seed"])
    if not c["batched"]:
        X = X[0]
    Wt = rand((c["c_out"], c["c_in"], c["kh"], c["kw"]), c["dtype"], c["seed"] + 1)
    b = rand((c["c_out"],), c["dtype"], c["seed"] + 2) if c["bias"] else None
    return X, Wt, b


@given(conv2d_case())
def test_conv2d_matches_F(c):
    X, Wt, b = conv2d_inputs(c)
    expected = F.conv2d(X, Wt, b, stride=c["stride"], padding=c["padding"])
    close(helpers.conv2d(X, Wt, b, stride=c["stride"], padding=c["padding"]), expected)
    ph, pw = (c["padding"],) * 2 if isinstance(c["padding"], int) else c["padding"]
    sh, sw = (c["stride"],) * 2 if isinstance(c["stride"], int) else c["stride"]
    assert expected.shape[-2:] == (helpers.conv_output_size(c["H"], c["kh"], ph, sh),
                                   helpers.conv_output_size(c["W"], c["kw"], pw, sw))


def test_conv2d_integer_inputs_stay_integer():
    X = torch.randint(-5, 5, (2, 3, 6, 7))
    Wt = torch.randint(-3, 3, (4, 3, 3, 2))
    b = torch.randint(-3, 3, (4,))
    out = helpers.conv2d(X, Wt, b, stride=(2, 1), padding=1)
    assert out.dtype == torch.int64
    expected = F.conv2d(X.double(), Wt.double(), b.double(), stride=(2, 1), padding=1)
    assert torch.equal(out, expected.long())


def test_conv2d_is_differentiable():
    X = torch.randn(1, 2, 5, 5, dtype=torch.float64, requires_grad=True)
    Wt = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w: helpers.conv2d(x, w, padding=1), (X, Wt))


# ---------------------------------------------------------------- NumPy, dtypes, tripwire

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_numpy_in_numpy_out(dtype):
    X = np.arange(16).reshape(4, 4).astype(dtype)
    K = np.ones((2, 2), dtype=dtype)
    for out in [helpers.corr2d(X, K), helpers.corr2d_multi_in(X[None], K[None]),
                helpers.corr2d_multi_in_out(X[None], K[None, None]),
                helpers.conv1d(X[0], K[0], padding=1), helpers.conv1d_matrix(K[0], 4),
                helpers.pad2d(X, 1), helpers.conv2d(X[None, None], K[None, None], stride=2)]:
        assert isinstance(out, np.ndarray) and out.dtype == dtype
    assert helpers.corr2d(X, K).tolist() == [[10 + 4 * (4 * i + j) for j in range(3)]
                                            for i in range(3)]


CONV_KERNELS = ["corr2d", "corr2d_multi_in", "corr2d_multi_in_out", "conv1d", "conv1d_matrix",
                "conv_params", "fc_params", "conv_output_size", "pad2d", "conv2d"]


@pytest.mark.parametrize("name", CONV_KERNELS)
def test_kernels_are_guarded(name):
    fn = getattr(helpers, name)
    assert fn is getattr(conv, name) and getattr(fn, "__reference__", False)
    assert ">>>" in fn.__doc__ or "Example" in fn.__doc__
    with forbid(name), pytest.raises(ForbiddenCall, match=name):
        fn(torch.ones(3, 3), torch.ones(2, 2))


def test_kernels_calling_each_other_are_not_tripped():
    # a student allowed to use helpers.conv2d while pad2d and corr2d are forbidden
    with forbid("pad2d", "corr2d"):
        helpers.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), padding=1)
        helpers.corr2d_multi_in_out(torch.ones(2, 3, 3), torch.ones(1, 2, 2, 2))


def test_docstring_examples_hold():
    import doctest

    from helpers import columns, pool, transposed
    finder = doctest.DocTestFinder()
    for module in (conv, pool, columns, transposed):
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        kernels = [getattr(module, n) for n in dir(module)]
        for kernel in [k for k in kernels if getattr(k, "__reference__", False)]:
            globs = {**vars(module), "torch": torch}
            for test in finder.find(kernel, kernel.__name__, module=False, globs=globs):
                runner.run(test)
        assert runner.failures == 0, module.__name__
        assert runner.tries > 0, f"no docstring example found in {module.__name__}"


def test_numpy_views_and_read_only_arrays(recwarn):
    X = np.broadcast_to(np.arange(4.0), (4, 4))          # read-only, zero strides
    out = helpers.corr2d(X[::-1], np.ones((2, 2)))        # negative strides too
    assert isinstance(out, np.ndarray) and out.tolist() == [[2.0, 6.0, 10.0]] * 3
    assert not recwarn.list
