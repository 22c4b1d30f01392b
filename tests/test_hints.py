"""helpers.hints: hints for the errors PyTorch really raises, the student's line, explain().

Every message below is produced by running the faulty operation, so a change in
PyTorch's wording makes these tests fail instead of leaving hints silently unused.
"""
import linecache
import sys

import pytest
import torch
import torch.nn.functional as F

from helpers import feedback, hints
from helpers._guard import ForbiddenCall, forbid
from helpers.check import CheckFailure


def raised(fn):
    """The exception fn() raises."""
    with pytest.raises(Exception) as info:
        fn()
    return info.value


def hint_of(exc):
    return hints.hint_for(type(exc).__name__, str(exc))


def _nothing():
    pass


def _not_done():
    raise NotImplementedError()


def _in_place_on_weight():
    w = torch.ones(3, requires_grad=True)
    w += 1


def _item_assign_on_weight():
    w = torch.ones(3, requires_grad=True)
    w[0] = 1


CASES = [
    # (what, faulty operation, words the hint must contain)
    ("negative step", lambda: torch.ones(3, 3)[::-1, ::-1], [".flip(", "K.flip(0, 1)"]),
    ("negative step, 1-D", lambda: torch.arange(4.)[::-1], [".flip("]),
    ("float @ double", lambda: torch.ones(2, 3) @ torch.ones(3, 2, dtype=torch.float64), ["dtype"]),
    ("float . double", lambda: torch.ones(2) @ torch.ones(2, dtype=torch.float64), ["dtype"]),
    ("conv2d float input, double weight",
     lambda: F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2, dtype=torch.float64)), ["dtype"]),
    ("linear of a long tensor", lambda: torch.nn.Linear(3, 2)(torch.arange(3)), ["dtype"]),
    ("matmul shapes", lambda: torch.ones(4, 3) @ torch.ones(4, 2), ["(4x3) @ (4x2)", "3 and 4", ".T"]),
    ("linear layer shapes", lambda: torch.nn.Linear(5, 2)(torch.ones(4, 3)), ["inner sizes"]),
    ("broadcasting", lambda: torch.ones(3) + torch.ones(4), ["sizes 3 and 4", "dimension 0", "broadcasting"]),
    ("in-place on a leaf", _in_place_on_weight, ["torch.no_grad()"]),
    ("item assignment on a leaf", _item_assign_on_weight, ["torch.no_grad()"]),
    ("mean of longs", lambda: torch.arange(4).mean(), ["float", "torch.arange(5.)"]),
    ("grad on longs", lambda: torch.arange(4).requires_grad_(), ["float"]),
    ("softmax of longs", lambda: F.softmax(torch.arange(3), 0), ["float"]),
    ("std of longs", lambda: torch.arange(3).std(), ["float"]),
    ("None has no attribute", lambda: _nothing().shape, ["return"]),
    ("None is not subscriptable", lambda: _nothing()[0], ["return"]),
    ("None + tensor", lambda: _nothing() + torch.ones(2), ["return"]),
    ("len(None)", lambda: len(_nothing()), ["return"]),
    ("name not defined", lambda: eval("conv_output_size_not_yet(7, 3)"),
     ["`conv_output_size_not_yet`", "run the cell that defines it", "exercise first"]),
    ("exercise not done", _not_done, ["raise NotImplementedError()", "replace"]),
    ("tensor index out of bounds", lambda: torch.ones(3, 3)[0, 5],
     ["index 5", "dimension 1", "3 entries", "range()"]),
    ("list index out of range", lambda: [1, 2][3], ["past the end"]),
    ("index_select out of range", lambda: torch.ones(2, 3).index_select(0, torch.tensor([5])), ["past the end"]),
    ("too many indices", lambda: torch.ones(2, 3)[0, 0, 0], ["dimensions", "x.shape"]),
    ("dimension out of range", lambda: torch.ones(2, 3).sum(dim=2), ["dimensions"]),
    ("reshape size", lambda: torch.ones(3, 3).reshape(4, 4), ["numel"]),
    ("cat sizes", lambda: torch.cat([torch.ones(2, 3), torch.ones(2, 4)]), ["torch.cat"]),
    ("stack sizes", lambda: torch.stack([torch.ones(2, 3), torch.ones(2, 4)]), ["torch.stack"]),
    ("channels", lambda: F.conv2d(torch.ones(1, 2, 3, 3), torch.ones(1, 1, 2, 2)), ["channels"]),
    ("device (meta vs cpu)", lambda: torch.ones(2, device="meta") + torch.ones(2), ["device", ".to(device)"]),
]


@pytest.mark.parametrize("what, fn, words", CASES, ids=[c[0] for c in CASES])
def test_hint_for_real_pytorch_errors(what, fn, words):
    exc = raised(fn)
    hint = hint_of(exc)
    assert hint, f"no hint for {type(exc).__name__}: {exc}"
    for word in words:
        assert word in hint, f"{what}: {word!r} not in hint {hint!r} (error: {exc})"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU to raise the real message")
def test_hint_for_tensors_on_two_devices():
    exc = raised(lambda: torch.ones(2, 2, device="cuda") @ torch.ones(2, 2))
    assert "device" in hint_of(exc)


def test_negative_step_is_not_a_dtype_or_shape_hint():
    hint = hint_of(raised(lambda: torch.ones(3, 3)[::-1]))
    assert "negative step" in hint and "dtype" not in hint


def test_a_torch_not_implemented_for_long_is_not_an_unfinished_exercise():
    hint = hint_of(raised(lambda: F.softmax(torch.arange(3), 0)))
    assert "NotImplementedError()" not in hint and "float" in hint


def test_unknown_errors_get_no_hint():
    assert hints.hint_for("ValueError", "math domain error") is None
    assert hints.hint_for("KeyError", "'lr'") is None
    assert hints.hint_for("RuntimeError", "") is None
    # A name rule only for NameError: the same words in another error do not trigger it.
    assert hints.hint_for("KeyError", "name 'x' is not defined") is None


# ---------------------------------------------------------------- student_frame

def fake_cell(source, filename="/tmp/ipykernel_4242/1234567.py"):
    """Run `source` as IPython would run a notebook cell (its file name, its lines in linecache)."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    namespace = {"torch": torch, "F": F, "forbid": forbid, "hints": hints, "sys": sys}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


CELL = """\
def corr2d(X, K):
    kh, kw = K.shape
    Kf = K[::-1, ::-1]
    return Kf
"""


def test_student_frame_is_the_line_in_the_cell_not_helpers_or_torch():
    ns = fake_cell(CELL)
    with pytest.raises(ValueError) as info:
        with forbid("corr2d", F.conv2d, torch.conv2d):  # the tripwire sees the slice
            ns["corr2d"](torch.ones(3, 3), torch.ones(2, 2))
    frames = []
    tb = info.value.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame.f_code.co_filename)
        tb = tb.tb_next
    assert any(f.endswith("_guard.py") for f in frames), "the slice should pass through the tripwire"
    assert hints.student_frame(info.value.__traceback__) == ("your cell", 3, "Kf = K[::-1, ::-1]")


def test_student_frame_with_old_ipython_file_names_and_stacks():
    ns = fake_cell("def where():\n    return hints.student_frame(sys._getframe())\n",
                   filename="<ipython-input-7-3c1f2a9b>")
    assert ns["where"]() == ("Cell In[7]", 2, "return hints.student_frame(sys._getframe())")


def test_student_frame_outside_notebooks_is_none():
    exc = raised(lambda: torch.ones(3)[::-1])
    assert hints.student_frame(exc.__traceback__) is None
    assert hints.student_frame(None) is None


def test_student_frame_in_function_skips_a_cells_top_level():
    ns = fake_cell("import sys\nhere = hints.student_frame(sys._getframe(), in_function=True)\n"
                   "top = hints.student_frame(sys._getframe())\n")
    assert ns["here"] is None
    assert ns["top"] == ("your cell", 3, "top = hints.student_frame(sys._getframe())")


# ---------------------------------------------------------------- explain

def test_explain_is_three_short_lines():
    ns = fake_cell(CELL)
    exc = raised(lambda: ns["corr2d"](torch.ones(3, 3), torch.ones(2, 2)))
    lines = hints.explain(exc).splitlines()
    assert lines[0] == "Your code raised ValueError: step must be greater than zero"
    assert lines[1] == "  in your cell, line 3: Kf = K[::-1, ::-1]"
    assert lines[2].startswith("  hint: ") and "K.flip(0, 1)" in lines[2]
    assert len(lines) == 3


def test_explain_without_a_cell_or_hint():
    exc = raised(lambda: {}["lr"])
    assert hints.explain(exc) == "Your code raised KeyError: 'lr'"


# ---------------------------------------------------------------- the tripwire's messages

FORBIDDEN_CELL = """\
def corr2d(X, K):
    return F.conv2d(X[None, None], K[None, None])[0, 0]

def corr2d_ref(X, K):
    import helpers
    return helpers.corr2d(X, K)
"""


def test_a_forbidden_call_names_the_call_the_line_and_an_alternative():
    ns = fake_cell(FORBIDDEN_CELL)
    with forbid("corr2d", F.conv2d, torch.conv2d), pytest.raises(ForbiddenCall) as info:
        ns["corr2d"](torch.ones(3, 3), torch.ones(2, 2))
    message = str(info.value)
    assert message.startswith("your answer called torch.conv2d")  # the round trip looks for this
    assert "  in your cell, line 2: return F.conv2d(X[None, None], K[None, None])[0, 0]" in message
    assert "instead:" in message and "(X[i:i + kh, j:j + kw] * K).sum()" in message
    assert "whole job for you" not in message


def test_a_forbidden_reference_names_it_and_the_line():
    ns = fake_cell(FORBIDDEN_CELL)
    with forbid("corr2d"), pytest.raises(ForbiddenCall) as info:
        ns["corr2d_ref"](torch.ones(3, 3), torch.ones(2, 2))
    message = str(info.value)
    assert message.startswith("your answer called helpers.corr2d, the course's reference solution")
    assert "  in your cell, line 6: return helpers.corr2d(X, K)" in message


def test_errors_passing_through_the_tripwire_are_not_forbidden_calls():
    with forbid(F.conv2d, torch.conv2d):
        exc = raised(lambda: torch.ones(3, 3)[::-1])
    assert type(exc) is ValueError
    tb, hidden = exc.__traceback__, []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith("_guard.py"):
            hidden.append(tb.tb_frame.f_locals.get("__tracebackhide__"))
        tb = tb.tb_next
    assert hidden == [True]


# ---------------------------------------------------------------- what the handler shows (no kernel)

def test_render_a_check_failure_is_its_message_only():
    exc = raised(lambda: (_ for _ in ()).throw(CheckFailure("f(x): expected 3, got 2.\n  Off by one.")))
    lines = feedback.render(type(exc), exc, exc.__traceback__, color=False)
    assert lines == ["✗ Exercise failed", "f(x): expected 3, got 2.", "  Off by one."]


def test_render_other_errors_from_a_cell():
    ns = fake_cell(CELL)
    exc = raised(lambda: ns["corr2d"](torch.ones(3, 3), torch.ones(2, 2)))
    lines = feedback.render(type(exc), exc, exc.__traceback__, color=False)
    assert lines[0] == "✗ Your code raised ValueError: step must be greater than zero"
    assert "Kf = K[::-1, ::-1]" in lines[1] and "K.flip(0, 1)" in lines[2] and len(lines) == 3


def test_render_leaves_syntax_errors_and_cell_less_errors_to_ipython():
    exc = raised(lambda: compile("def (:", "<x>", "exec"))
    assert feedback.render(type(exc), exc, exc.__traceback__) is None
    exc = raised(lambda: torch.ones(3)[::-1])
    assert feedback.render(type(exc), exc, exc.__traceback__) is None


def test_install_outside_ipython_does_nothing():
    assert feedback.install() is False  # no IPython shell runs under pytest
