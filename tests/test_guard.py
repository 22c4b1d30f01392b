"""The tripwires behind check.forbid: what they catch, and that kernels still work."""
import inspect

import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers._guard import ForbiddenCall, forbid


def test_an_aliased_reference_is_caught():
    alias = helpers.corr2d
    with forbid("corr2d"), pytest.raises(ForbiddenCall, match="helpers.corr2d"):
        alias(torch.ones(3, 3), torch.ones(2, 2))


def test_no_unguarded_handle_on_the_reference():
    for name in ["corr2d", "conv2d", "im2col", "max_pool2d", "conv_transpose2d"]:
        fn = getattr(helpers, name)
        assert not hasattr(fn, "__wrapped__"), name
        assert not hasattr(fn, "raw"), name
        assert "X" in inspect.signature(fn).parameters, name


def test_torch_functions_are_caught_however_imported():
    from torch.nn.functional import conv2d as renamed

    with forbid(F.conv2d), pytest.raises(ForbiddenCall, match="torch.conv2d"):
        renamed(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))
    with forbid(torch.Tensor.unfold), pytest.raises(ForbiddenCall, match="Tensor.unfold"):
        torch.ones(4).unfold(0, 2, 1)


def test_aten_ops_get_a_readable_name():
    op = torch.ops.aten.convolution
    with forbid(op), pytest.raises(ForbiddenCall, match="torch.ops.aten.convolution"):
        op(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2), None, [1, 1], [0, 0], [1, 1], False, [0, 0], 1)


def test_kernels_may_use_other_kernels_that_the_student_may_not():
    # helpers.conv2d pads with helpers.pad2d: forbidding pad2d for the student
    # must not break the reference the test compares against.
    X, W = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    with forbid("pad2d"):
        out = helpers.conv2d(X, W, padding=1)
        with pytest.raises(ForbiddenCall):
            helpers.pad2d(X, 1)
    assert torch.allclose(out, F.conv2d(X, W, padding=1), atol=1e-5)


def test_other_code_runs_untouched():
    with forbid("*", F.conv2d):
        assert torch.ones(2, 2).sum().item() == 4
