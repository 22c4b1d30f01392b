"""Tripwires: run a student's function with the reference solutions switched off.

A test calls the student's function inside `forbid(...)`. If that function
reaches a helpers reference kernel (however it got hold of it: imported,
aliased, wrapped) or one of the named torch functions (however it was
imported), the call fails with a message saying so. Torch calls are caught
with a TorchFunctionMode, which sees every torch function and Tensor method,
so `from torch.nn.functional import conv2d as c` is caught too.
"""
import contextlib
import contextvars
import functools
import inspect

_forbidden_kernels = contextvars.ContextVar("forbidden_kernels", default=frozenset())
# Set while a reference kernel runs: kernels may call one another freely.
_inside_reference = contextvars.ContextVar("inside_reference", default=False)


class ForbiddenCall(AssertionError):
    """The student's answer used the thing the exercise asks them to build."""


def reference(fn):
    """Mark `fn` as a reference kernel: it refuses to run inside `forbid(...)`."""

    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        __tracebackhide__ = True
        if _inside_reference.get():
            return fn(*args, **kwargs)
        blocked = _forbidden_kernels.get()
        if fn.__name__ in blocked or "*" in blocked:
            _forbidden(f"helpers.{fn.__name__}", reference=True)
        token = _inside_reference.set(True)
        try:
            return fn(*args, **kwargs)
        finally:
            _inside_reference.reset(token)

    # Keep help() and the signature, but no `__wrapped__` way around the tripwire.
    guarded.__signature__ = inspect.signature(fn)
    del guarded.__wrapped__
    guarded.__reference__ = True
    return guarded


@contextlib.contextmanager
def forbid(*things):
    """Switch off reference kernels and torch functions for the enclosed call.

    things: helpers kernel names as strings ("corr2d"; "*" for all of them) and
        torch callables (torch.nn.functional.conv2d, torch.Tensor.unfold).
    Raises ForbiddenCall, an AssertionError, naming what was called.
    """
    import torch
    from torch.overrides import TorchFunctionMode

    names = frozenset(t for t in things if isinstance(t, str))
    funcs = {t: _display_name(t) for t in things if not isinstance(t, str)}

    class Tripwire(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            # Every torch call of the student's code passes here: an error of the call
            # itself (a negative-step slice, a shape mismatch) is theirs, not the tripwire's.
            __tracebackhide__ = True
            if func in funcs:
                _forbidden(funcs[func])
            return func(*args, **(kwargs or {}))

    token = _forbidden_kernels.set(_forbidden_kernels.get() | names)
    try:
        if funcs:
            with Tripwire():
                yield
        else:
            yield
    finally:
        _forbidden_kernels.reset(token)


# What to use instead, by the first key found in the forbidden name.
_INSTEAD = [
    ("pool", "take each window with slicing (X[..., i:i + k, j:j + k]) and reduce it with "
             ".max() or .mean(), in loops over the output positions"),
    ("transpose", "scatter each input value times the kernel into the output with slicing "
                  "and +=, in loops over the input positions"),
    ("unfold", "cut each window out yourself with slicing (X[..., i:i + kh, j:j + kw]) "
               "in loops over the output positions"),
    ("as_strided", "cut each window out yourself with slicing (X[..., i:i + kh, j:j + kw])"),
    ("im2col", "cut each window out with slicing and flatten it (.reshape(-1)), one column per "
               "output position"),
    ("conv", "loop over the output positions and compute each value from a slice of the input "
             "times the kernel: (X[i:i + kh, j:j + kw] * K).sum()"),
    ("pad", "make a larger tensor of zeros (torch.zeros) and copy the input into its middle "
            "with slicing"),
]


def _forbidden(name, reference=False):
    """Raise ForbiddenCall for `name`: which call, on which line of the student's code, what instead."""
    __tracebackhide__ = True
    import sys

    what = ("the course's reference solution, there to check your answer against"
            if reference else "which does the work this exercise asks you to write")
    lines = [f"your answer called {name}, {what}."]
    try:
        from helpers.hints import student_frame, where_text

        where = student_frame(sys._getframe(1), in_function=True)
        if where:
            lines.append(f"  in {where_text(where)}")
    except Exception:  # noqa: BLE001 - the message is still useful without the line
        pass
    low = name.lower()
    instead = None if reference else next((text for key, text in _INSTEAD if key in low), None)
    instead = instead or "build it from simpler operations (indexing, slicing, sums, products, loops)"
    lines.append(f"  instead: {instead}.")
    raise ForbiddenCall("\n".join(lines))


def _display_name(func):
    module = getattr(func, "__module__", None) or "torch"
    qualname = getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))
    if type(func).__name__ == "OpOverloadPacket" or type(func).__name__ == "OpOverload":
        return f"torch.ops.{func}"  # e.g. torch.ops.aten.convolution
    if "<locals>" in qualname:  # F.max_pool2d and friends are made by boolean_dispatch
        qualname = func.__name__
    if module.startswith("torch._C"):
        module = "torch"
    qualname = qualname.replace("_VariableFunctionsClass.", "").replace("TensorBase.", "Tensor.")
    return f"{module}.{qualname}"
