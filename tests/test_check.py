"""helpers.check: readable assertions for the test cells.

Every diagnosis the test cells rely on is exercised here: the message must
name the likely cause, mention the checked name, and stay short.
"""
import doctest

import numpy as np
import pytest
import torch

import helpers._guard
from helpers import check

X = torch.tensor([[0., 1, 2], [3, 4, 5], [6, 7, 8]])
K = torch.tensor([[0., 1], [2, 3]])
E = torch.tensor([[19., 25], [37, 43]])


def fails(fn, *args, **kwargs):
    """The CheckFailure message of fn(*args, **kwargs); fails the test if it passes."""
    with pytest.raises(check.CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value)


# ------------------------------------------------------------------ basics

def test_api_and_types():
    assert issubclass(check.CheckFailure, AssertionError)
    # In the student's kernel, forbid is the tripwire itself.
    assert type(check.forbid("corr2d")) is type(helpers._guard.forbid("corr2d"))
    assert check.ForbiddenCall is helpers._guard.ForbiddenCall
    for fn in ("close", "equal", "shape", "tensor", "forbid", "make", "CheckFailure", "ForbiddenCall"):
        assert fn in check.__all__


def test_passing_checks_return_none():
    assert check.close(E.clone(), E) is None
    assert check.close(0.3333333, 1 / 3) is None
    assert check.close(torch.tensor(2.0), 2) is None
    assert check.close(E.clone(), [[19, 25], [37, 43]]) is None
    assert check.close(torch.ones(2, requires_grad=True) * 2, torch.full((2,), 2.0)) is None
    assert check.close(torch.zeros(0, 3), torch.zeros(0, 3)) is None
    assert check.equal(5, 5) is None
    assert check.equal(0.5, 0.5) is None
    assert check.equal(True, True) is None
    assert check.equal("max", "max") is None
    assert check.equal([10, 31, 31], (10, 31, 31)) is None
    assert check.equal(torch.Size([10, 31, 31]), (10, 31, 31)) is None
    assert check.equal(torch.tensor([1, 2, 3]), torch.tensor([1, 2, 3])) is None
    assert check.equal(np.int64(7), 7) is None
    assert check.shape(torch.zeros(10, 31, 31), (10, 31, 31)) is None
    assert check.shape(torch.zeros(4, 10), (None, 10)) is None
    assert check.shape((3, 12, 12), [3, 12, 12]) is None
    assert check.tensor(torch.zeros(3)) is None


def test_nan_and_inf_match_themselves():
    v = torch.tensor([float("nan"), float("inf"), 1.0])
    check.close(v.clone(), v)
    msg = fails(check.close, torch.tensor([-float("inf")]), torch.tensor([float("inf")]))
    assert "1 of 1 value is wrong" in msg


def test_tolerances():
    check.close(E + 1e-5, E)                      # within rtol
    fails(check.close, E + 1e-2, E)
    check.close(E + 1e-2, E, atol=0.1)
    fails(check.close, 0.333, 1 / 3)
    check.close(0.333, 1 / 3, atol=1e-3)


def test_doctests():
    result = doctest.testmod(check)
    assert result.failed == 0 and result.attempted >= 5


# ------------------------------------------------------------------ diagnoses: type

def test_none_returned():
    msg = fails(check.close, None, E, name="corr2d(X, K)")
    assert "corr2d(X, K)" in msg and "`return`" in msg
    assert "`return`" in fails(check.equal, None, 5, name="n")
    assert "`return`" in fails(check.close, None, 0.5)
    assert "`return`" in fails(check.tensor, None)
    assert "`return`" in fails(check.shape, None, (2, 2))


def test_numpy_list_number_instead_of_tensor():
    msg = fails(check.close, E.numpy(), E, name="corr2d(X, K)")
    assert "NumPy array" in msg and "torch.Tensor" in msg and "corr2d(X, K)" in msg
    assert "list" in fails(check.close, E.tolist(), E)
    assert "float" in fails(check.close, 19.0, E)
    assert "NumPy" in fails(check.tensor, np.zeros(3))
    assert "NumPy" in fails(check.shape, np.zeros((2, 2)), (2, 2))


def test_wrong_dtype_float64_vs_float32():
    msg = fails(check.close, E.double(), E, name="out")
    assert "float32" in msg and "float64" in msg and "dtype" in msg
    assert "values themselves are right" in msg
    check.close(E.double(), E, dtype=False)


def test_wrong_dtype_int_vs_float():
    msg = fails(check.close, torch.tensor([[0, 1], [2, 3]]), torch.tensor([[0.2, 1.4], [2.5, 3.1]]))
    assert "int64" in msg and "integers" in msg and "values themselves" not in msg
    msg = fails(check.equal, torch.tensor([1.0, 2.0]), torch.tensor([1, 2]))
    assert "int64" in msg and "float32" in msg


# ------------------------------------------------------------------ diagnoses: shape

def test_transposed_shape():
    A = torch.arange(6.0).reshape(2, 3)
    msg = fails(check.close, A.T.contiguous(), A, name="out")
    assert "transpose" in msg and "(2, 3)" in msg and "(3, 2)" in msg


def test_permuted_dimensions():
    A = torch.arange(60.0).reshape(3, 4, 5)
    msg = fails(check.close, A.permute(1, 2, 0), A)
    assert "wrong order" in msg and ".permute(2, 0, 1)" in msg


def test_off_by_one_names_axis_and_amount():
    msg = fails(check.close, torch.zeros(2, 4, 3), torch.zeros(2, 3, 3), name="conv2d(X, W)")
    assert "conv2d(X, W)" in msg
    assert "axis 1 is 4 instead of 3 (+1)" in msg
    assert "floor((n + 2p - f)/s) + 1" in msg and "range()" in msg
    msg = fails(check.shape, torch.zeros(10, 30, 31), (10, 31, 31))
    assert "axis 1 is 30 instead of 31 (-1)" in msg and "+1" in msg


def test_shape_mistake_named():
    expected = torch.zeros(3, 3)
    one_side = torch.ones(4, 4)
    mistakes = {"padding applied to one side only": one_side}
    msg = fails(check.close, torch.ones(4, 4), expected, name="out", mistakes=mistakes)
    assert "likely cause: padding applied to one side only" in msg
    # same shape as the mistake but other values: named as the shape's origin
    msg = fails(check.close, torch.zeros(4, 4), expected, mistakes=mistakes)
    assert "padding applied to one side only" in msg and "likely cause" not in msg
    msg = fails(check.close, torch.zeros(5, 5), expected, mistakes=mistakes)
    assert "(+2)" in msg and "2p" in msg


def test_extra_dimension_and_flattened():
    msg = fails(check.close, torch.zeros(1, 3, 3), torch.zeros(3, 3))
    assert "extra dimension of size 1" in msg
    msg = fails(check.close, torch.zeros(3, 3), torch.zeros(1, 3, 3))
    assert "missing dimension of size 1" in msg
    msg = fails(check.close, torch.arange(9.0), torch.arange(9.0).reshape(3, 3))
    assert "reshape" in msg and "values are right" in msg


# ------------------------------------------------------------------ diagnoses: values

def test_values_largest_difference_and_count():
    got = E.clone()
    got[1, 0] = 30
    got[0, 1] = 24
    msg = fails(check.close, got, E, name="corr2d(X, K)")
    assert msg.startswith("corr2d(X, K): 2 of 4 values are wrong")
    assert "index (1, 0): expected 37, got 30" in msg


def test_transposed_values():
    msg = fails(check.close, E.T.contiguous(), E)
    assert "transpose" in msg


def test_mistakes_named_and_first_line_keeps_facts():
    flipped = torch.tensor([[7., 13], [25, 31]])
    msg = fails(check.close, flipped.clone(), E, name="corr2d(X, K)",
                mistakes={"the kernel is flipped: that is convolution, not cross-correlation": flipped})
    assert "likely cause: the kernel is flipped" in msg
    assert "expected 19" in msg or "expected [[19" in msg
    # a mistake that does not match is not named
    msg = fails(check.close, E + 3, E, mistakes={"the kernel is flipped": flipped})
    assert "flipped" not in msg
    msg = fails(check.equal, 28, 30, name="n", mistakes={"valid padding instead of same": 28})
    assert "likely cause: valid padding instead of same" in msg and "expected 30, got 28" in msg
    msg = fails(check.close, 0.5, 0.25, mistakes={"divided by 2 instead of 4": 0.5})
    assert "likely cause: divided by 2 instead of 4" in msg
    # Python numbers are matched in float64, so a tight tolerance still names the mistake.
    mean, median = 0.1234567891, 0.1234567
    msg = fails(check.close, mean, median, rtol=1e-9, atol=0, mistakes={"the mean of the times": mean})
    assert "likely cause: the mean of the times" in msg


def test_nan_and_inf_in_output():
    got = E.clone()
    got[1, 1] = float("nan")
    msg = fails(check.close, got, E, name="out")
    assert "NaN" in msg and "(1, 1)" in msg and "torch.empty" in msg
    got[1, 1] = float("inf")
    assert "inf" in fails(check.close, got, E)


def test_patterns_scaled_negated_shifted_border():
    assert "2 times" in fails(check.close, E * 2, E)
    assert "sign" in fails(check.close, -E, E)
    assert "same amount (1)" in fails(check.close, E + 1, E)
    torch.manual_seed(0)
    B = torch.rand(8, 8)
    C = B.clone()
    C[0, 3] += 1
    C[7, 5] -= 2
    assert "border" in fails(check.close, C, B)


def test_large_tensors_stay_short():
    torch.manual_seed(0)
    a, b = torch.rand(100, 100), torch.rand(100, 100)
    msg = fails(check.close, a, b, name="big")
    assert len(msg) < 400 and len(msg.splitlines()) <= 5 and "big" in msg
    msg = fails(check.close, torch.zeros(100, 101), b)
    assert len(msg) < 400


# ------------------------------------------------------------------ equal

def test_equal_types_and_hints():
    msg = fails(check.equal, 31.0, 31, name="conv_output_size(64, 6, 1, 2)")
    assert "31.0" in msg and "//" in msg
    assert "off by one" in fails(check.equal, 32, 31).lower()
    assert ".item()" in fails(check.equal, torch.tensor(5), 5)
    assert "bool" in fails(check.equal, 1, True)
    assert "integer" in fails(check.equal, True, 1)
    msg = fails(check.equal, [10, 32, 32], (10, 31, 31), name="shape")
    assert "2 of 3 items wrong" in msg and "shape[1]" in msg
    assert "3 items" in fails(check.equal, (3, 12), (3, 12, 12))
    assert "tuple(t.shape)" in fails(check.equal, torch.zeros(3, 12, 12), (3, 12, 12))
    assert "case" in fails(check.equal, "Max", "max")
    assert "expected 0.5, got 0.25" in fails(check.equal, 0.25, 0.5)
    msg = fails(check.equal, torch.tensor([1, 2]), torch.tensor([1, 3]), name="idx")
    assert "1 of 2 values are wrong" in msg and "tolerance" not in msg


def test_shape_and_tensor():
    msg = fails(check.shape, torch.zeros(1, 3, 3), (3, 3), name="out")
    assert "extra dimension of size 1" in msg and "out" in msg
    assert "different order" in fails(check.shape, torch.zeros(3, 5, 4), (3, 4, 5))
    assert "list" in fails(check.tensor, [1, 2])


# ------------------------------------------------------------------ robustness

@pytest.mark.parametrize("target", [
    "torch.allclose", "torch.isclose", "torch.equal", "numpy.allclose",
    "torch.testing.assert_close",
])
def test_monkeypatched_comparisons_do_not_fool_checks(monkeypatch, target):
    module_name, attr = target.rsplit(".", 1)
    module = {"torch": torch, "numpy": np, "torch.testing": torch.testing}[module_name]
    if attr == "isclose":
        fake = lambda a, b, *args, **kw: torch.ones_like(torch.as_tensor(a), dtype=torch.bool)  # noqa: E731
    elif attr == "assert_close":
        fake = lambda *args, **kw: None  # noqa: E731
    else:
        fake = lambda *args, **kw: True  # noqa: E731
    monkeypatch.setattr(module, attr, fake)
    fails(check.close, E + 1, E)
    fails(check.close, E[:1], E)
    fails(check.close, 0.5, 0.25)
    fails(check.equal, torch.tensor([1, 2]), torch.tensor([1, 3]))
    check.close(E.clone(), E)


def test_patched_tensor_methods_do_not_fool_checks(monkeypatch):
    monkeypatch.setattr(torch.Tensor, "sum", lambda self, *a, **k: torch.tensor(0))
    monkeypatch.setattr(torch.Tensor, "abs", lambda self: torch.zeros_like(self))
    fails(check.close, E + 1, E)


def test_forbid_reexported_works():
    import torch.nn.functional as F

    with pytest.raises(check.ForbiddenCall):
        with check.forbid(F.conv2d, torch.conv2d):
            F.conv2d(X[None, None], K[None, None])


def test_float32_rounding_in_a_float64_answer_is_named():
    expected = torch.linspace(-3, 3, 20, dtype=torch.float64).reshape(4, 5) / 7
    rounded = expected.float().double()         # what a float32 buffer gives back
    with pytest.raises(check.CheckFailure) as info:
        check.close(rounded, expected, name="f(X)", rtol=1e-9, atol=1e-12)
    lines = str(info.value).splitlines()
    assert "lost float64 precision" in lines[1] and "dtype=X.dtype" in lines[1]
    assert "times the expected one" not in str(info.value)
    # A real scale error in float64 is not called a precision loss.
    with pytest.raises(check.CheckFailure) as info:
        check.close(expected * 1.5, expected, name="f(X)", rtol=1e-9, atol=1e-12)
    assert "precision" not in str(info.value) and "1.5 times" in str(info.value)


def test_an_output_one_too_large_names_padding_too():
    with pytest.raises(check.CheckFailure, match="none where none is asked"):
        check.close(torch.zeros(4, 4), torch.zeros(3, 3), name="conv2d(X, K)")


def test_a_loop_stopping_early_is_named_only_where_it_can_be_told_apart():
    import helpers
    from helpers.exercises import convolution as ex

    X, K = torch.arange(4.).reshape(2, 2), torch.ones(2, 2)        # a 1x1 output
    msg = fails(check.close, torch.zeros(1, 1), helpers.corr2d(X, K), mistakes=ex.corr2d_mistakes(X, K))
    assert "one step early" not in msg
    X = torch.arange(9.).reshape(3, 3)                               # 2x2: the last row left at 0
    early = helpers.corr2d(X, K)
    early[-1] = 0
    msg = fails(check.close, early, helpers.corr2d(X, K), mistakes=ex.corr2d_mistakes(X, K))
    assert "likely cause: a loop stops one step early" in msg and "last row" in msg
