"""What the kernel property tests share: dtypes, seeded random tensors, a strict comparison."""
import torch
from hypothesis import strategies as st

DTYPES = st.sampled_from([torch.float32, torch.float64])


def rand(shape, dtype, seed):
    return torch.randn(shape, dtype=dtype, generator=torch.Generator().manual_seed(seed))


def close(actual, expected, atol=1e-4):
    """Same dtype, same shape, values equal within float32 (or float64) rounding."""
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    tol = {"rtol": 1e-5, "atol": atol} if expected.dtype == torch.float32 else {}
    torch.testing.assert_close(actual, expected, **tol)
