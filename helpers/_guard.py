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
        if _inside_reference.get():
            return fn(*args, **kwargs)
        blocked = _forbidden_kernels.get()
        if fn.__name__ in blocked or "*" in blocked:
            raise ForbiddenCall(
                f"your answer called helpers.{fn.__name__}, the course's reference "
                f"solution. Write your own version: building it is the exercise."
            )
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
            if func in funcs:
                raise ForbiddenCall(
                    f"your answer called {funcs[func]}, which does the whole job "
                    f"for you. Build it from simpler operations (indexing, sums, "
                    f"products, loops): that is the exercise."
                )
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
