"""What the test cells of each chapter share: tripwire presets and mistake builders.

A test cell shows the examples it checks; the machinery lives here, one module
per chapter, so a visible test reads like this:

    from helpers import check
    from helpers.exercises import convolution as ex

    X = torch.tensor([[0., 1, 2], [3, 4, 5], [6, 7, 8]])
    K = torch.tensor([[0., 1], [2, 3]])
    with check.forbid(ex.NO_CONV):            # a preset: what the exercise switches off
        out = corr2d(X, K)
    check.close(out, torch.tensor([[19., 25], [37, 43]]), name="corr2d(X, K)",
                mistakes=ex.corr2d_mistakes(X, K))   # the usual slips, named

Modules: convolution (chapter 1), padding_stride (2), pooling (3), im2col (4),
transposed_conv (5), cifar2 (6), lenet5 (7), gpu_training (8). Each module's docstring lists its presets and builders.
Nothing here knows a hidden test's inputs: hidden tests stay in the notebooks.
While a notebook is graded the student's kernel does not get this package
(test cells run in the grader, see docs/grading.md).

Shared by the chapter modules (and re-exported by them): `pair`, `pick` and
`must_raise_value_error`. The builders below turn a rule ("everything in torch whose name mentions
conv") into the tuple of callables `check.forbid` takes.
"""
import re

__all__ = ["torch_functions", "aten_ops", "pair", "pick", "must_raise_value_error"]


def torch_functions(pattern, *, exclude=None):
    """Every callable in torch, torch.nn.functional and torch._C._nn whose name matches.

    pattern: a regular expression searched in each name, e.g. r"conv(?!ert)|im2col".
    exclude: an optional regular expression of names to leave out.
    Returns a tuple of callables (for `check.forbid`).
    """
    import torch
    import torch.nn.functional as F

    hit, miss = re.compile(pattern).search, re.compile(exclude).search if exclude else (lambda n: False)
    found = {}
    for module in (torch, F, torch._C._nn):
        for name in dir(module):
            if hit(name) and not miss(name):
                value = getattr(module, name)
                if callable(value) and not isinstance(value, type):
                    found[id(value)] = value
    return tuple(found.values())


def aten_ops(*names):
    """The torch.ops.aten operators with these names, with every overload of each.

    names: aten operator names, e.g. "convolution", "im2col"; unknown names are skipped.
    Returns a tuple of OpOverloadPacket and OpOverload objects (for `check.forbid`).
    """
    import torch

    ops = []
    for name in names:
        try:
            packet = getattr(torch.ops.aten, name)
        except (AttributeError, RuntimeError):
            continue
        ops += [packet, *(getattr(packet, overload) for overload in packet.overloads())]
    return tuple(ops)


def pair(v):
    """An int or an (h, w) pair -> (h, w): pair(3) == (3, 3), pair((3, 2)) == (3, 2)."""
    return (v, v) if isinstance(v, int) else tuple(v)


def pick(g, lo, hi):
    """A random int in lo..hi (both included), drawn from the torch.Generator g."""
    import torch

    return int(torch.randint(lo, hi + 1, (1,), generator=g))


def must_raise_value_error(call, run, why):
    """Check that an impossible setting is refused with ValueError.

    call: the call as the message shows it ("conv_output_size(5, 7, p=0, s=1)").
    run: a function of no arguments making that call (inside its check.forbid).
    why: why the setting is impossible ("the stride must be at least 1").
    A ForbiddenCall is passed on; another exception, or a returned value, fails
    with `why`. Raises check.CheckFailure; returns None.
    """
    from helpers import check

    try:
        got = run()
    except ValueError:
        return
    except check.ForbiddenCall:
        raise
    except Exception as e:
        raise check.CheckFailure(
            f"{call} raised {type(e).__name__} ({e}); it should raise ValueError, because {why}.") from None
    raise check.CheckFailure(
        f"{call} returned {got!r}; it should raise ValueError, because {why}.\n"
        f"  Check the arguments before computing: if ...: raise ValueError(\"...\")")
