"""Argument checks shared by the reference kernels.

Every public kernel checks what it is given and fails early with a message
that names the argument, says what was expected and what came:

    X must be 2-D (H, W); got shape (3, 4, 5)

The rules, the same for all kernels:

- Array arguments are `torch.Tensor`s; NumPy arrays are accepted too (see
  `numpy_io`), anything else (a list, a number) is a TypeError.
- Arrays that meet (X and K, X and W and b, ...) must share one dtype and
  device: a TypeError names both dtypes. Nothing is cast behind your back.
- Sizes (kernel size f, stride s, padding p, n, ...) are Python integers (or
  NumPy / 0-d torch integers); anything else, and any value out of range
  (stride < 1, padding < 0, a kernel larger than the padded input), is a
  ValueError.
"""
import functools
import operator

import numpy as np
import torch

__all__ = [
    "numpy_io", "tensor_arg", "same_dtype", "int_arg", "pair_arg",
    "check_fits", "out_size",
]


def numpy_io(fn):
    """Let `fn` take NumPy arrays: they become tensors, and the result goes back.

    If any argument is a NumPy array, every NumPy argument is turned into a
    tensor (sharing memory; the kernels never write to their inputs) and a
    tensor result is returned as a NumPy array. Torch in, torch out.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        saw_numpy = False

        def convert(a):
            nonlocal saw_numpy
            if isinstance(a, np.ndarray):
                saw_numpy = True
                a = np.ascontiguousarray(a)
                if not a.flags.writeable:     # torch warns about read-only arrays
                    a = a.copy()
                return torch.from_numpy(a)
            return a

        args = [convert(a) for a in args]
        kwargs = {k: convert(v) for k, v in kwargs.items()}
        out = fn(*args, **kwargs)
        if saw_numpy and isinstance(out, torch.Tensor):
            return out.detach().cpu().numpy()
        return out

    return wrapper


def _shape(t):
    return str(tuple(t.shape))


def tensor_arg(x, name, layouts):
    """Check that `x` is a tensor of one of the ranks in `layouts`.

    layouts: {ndim: "(H, W)"} the accepted ranks and what their axes mean;
        a key "2+" means any rank of at least 2.
    Returns `x`. TypeError for a non-tensor or a non-numeric dtype, ValueError
    for a wrong rank or an empty axis.
    """
    if isinstance(x, (list, tuple)):
        raise TypeError(
            f"{name} must be a torch.Tensor (or a NumPy array); got a Python "
            f"{type(x).__name__}. Wrap it: torch.tensor({name})"
        )
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor (or a NumPy array); got {type(x).__name__}"
        )
    if x.dtype == torch.bool or x.is_complex():
        raise TypeError(f"{name} must have a real numeric dtype; got {x.dtype}")
    at_least = [k for k in layouts if isinstance(k, str)]
    if at_least:
        lo = int(at_least[0].rstrip("+"))
        if x.dim() < lo:
            raise ValueError(
                f"{name} must be at least {lo}-D {layouts[at_least[0]]}; got shape {_shape(x)}"
            )
    elif x.dim() not in layouts:
        wanted = " or ".join(f"{d}-D {layouts[d]}" for d in sorted(layouts, reverse=True))
        raise ValueError(f"{name} must be {wanted}; got shape {_shape(x)}")
    if x.numel() == 0:
        raise ValueError(f"{name} must not be empty; got shape {_shape(x)}")
    return x


def same_dtype(**named):
    """TypeError unless all the given tensors (None skipped) share dtype and device."""
    items = [(k, v) for k, v in named.items() if v is not None]
    (n0, t0), rest = items[0], items[1:]
    for n, t in rest:
        if t.dtype != t0.dtype:
            raise TypeError(
                f"{n0} and {n} must have the same dtype; got {n0} {t0.dtype} and "
                f"{n} {t.dtype}. Convert one, e.g. {n} = {n}.to({n0}.dtype)"
            )
        if t.device != t0.device:
            raise TypeError(
                f"{n0} and {n} must be on the same device; got {n0} on {t0.device} "
                f"and {n} on {t.device}"
            )


def int_arg(v, name, minimum=None):
    """Return `v` as a Python int; ValueError naming `name` if it is not one or is < minimum."""
    if isinstance(v, (bool, np.bool_)) or (isinstance(v, torch.Tensor) and v.dim() != 0):
        raise ValueError(f"{name} must be an integer; got {v!r} ({type(v).__name__})")
    try:
        i = operator.index(v)
    except TypeError:
        raise ValueError(f"{name} must be an integer; got {v!r} ({type(v).__name__})") from None
    if minimum is not None and i < minimum:
        raise ValueError(f"{name} must be >= {minimum}; got {i}")
    return i


def pair_arg(v, name, minimum=None):
    """An int or an (h, w) pair of ints -> (h, w); ValueError naming `name` otherwise."""
    if isinstance(v, torch.Tensor) and v.dim() == 1:
        v = v.tolist()
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(
                f"{name} must be an integer or a pair (h, w) of integers; got {v!r}"
            )
        h = int_arg(v[0], name, None)
        w = int_arg(v[1], name, None)
        if minimum is not None and min(h, w) < minimum:
            raise ValueError(f"{name} must be >= {minimum}; got {(h, w)}")
        return h, w
    i = int_arg(v, name, minimum)
    return i, i


def check_fits(kernel, size, padding, name, input_name):
    """ValueError naming `name` if a kernel (kh, kw) is larger than the padded input.

    size: the input's (H, W); padding: (ph, pw); input_name: what to call the input.
    """
    padded = (size[0] + 2 * padding[0], size[1] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        where = f"{input_name} {tuple(size)}"
        if any(padding):
            where += f" padded by {tuple(padding)}, which is {padded}"
        raise ValueError(
            f"{name}: kernel size {tuple(kernel)} is larger than {where}; "
            f"the kernel must fit inside the (padded) input"
        )


def out_size(n, f, p, s):
    """floor((n + 2p - f) / s) + 1, the number of window positions along one axis."""
    return (n + 2 * p - f) // s + 1
