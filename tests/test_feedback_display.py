"""What a student sees when a cell fails: a real kernel runs a small notebook (nbclient).

With helpers.feedback installed, a failing cell still ends in an "error" output
(nbgrader scores a failing test cell 0 because of it), but its text is a few
lines: the check's message, or the student's line and a hint; never a frame of
helpers, a path, or site-packages. The last cells switch the handler off and
show that the same checks then see IPython's long traceback, so they can fail.
"""
import os
import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

ROOT = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_LINES = 8

SETUP = """\
import torch
import torch.nn.functional as F
import helpers
from helpers import check
print("installed by importing check:", get_ipython().custom_exceptions == (Exception,))
from helpers import feedback as _feedback
assert _feedback.install()
assert _feedback.install()  # a second import of helpers.check changes nothing
"""

TEST_CELL = """\
X = torch.tensor([[0., 1, 2], [3, 4, 5], [6, 7, 8]])
K = torch.tensor([[0., 1], [2, 3]])
with check.forbid("corr2d", F.conv2d, torch.conv2d):
    out = corr2d(X, K)
check.close(out, torch.tensor([[19., 25], [37, 43]]), name="corr2d(X, K)",
            mistakes={"the kernel is flipped: that is convolution, not cross-correlation":
                      helpers.corr2d(X, K.flip(0, 1))})
print("corr2d: visible tests passed")
"""

LOOP = """\
    kh, kw = K.shape
    Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * {kernel}).sum()
    return Y
"""

CELLS = {
    "setup": SETUP,
    "right": "def corr2d(X, K):\n" + LOOP.format(kernel="K"),
    "right test": TEST_CELL,
    "flipped": "def corr2d(X, K):\n" + LOOP.format(kernel="K.flip(0, 1)"),
    "flipped test": TEST_CELL,
    "negative step": "def corr2d(X, K):\n    Kf = K[::-1, ::-1]\n" + LOOP.format(kernel="Kf"),
    "negative step test": TEST_CELL,
    "forbidden": "def corr2d(X, K):\n    return F.conv2d(X[None, None], K[None, None])[0, 0]\n",
    "forbidden test": TEST_CELL,
    "reference": "def corr2d(X, K):\n    return helpers.corr2d(X, K)\n",
    "reference test": TEST_CELL,
    "no return": "def shape_of(X):\n    X.shape\n\nshape_of(torch.ones(2)).numel()\n",
    "not done": "def pool(X):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n\npool(torch.ones(2))\n",
    "not defined": "conv_output_size(7, 3)\n",
    "inside torch": "layer = torch.nn.Linear(5, 2)\nlayer(torch.ones(4, 3))\n",
    "full traceback": "%tb\n",
    "syntax": "def f(:\n    pass\n",
    "handler breaks": "_feedback.render = lambda *args, **kwargs: 1 / 0\nraise ValueError('shown anyway')\n",
    "after break": "_feedback.render.__module__  # still installed, no error here\n",
    "uninstall": "assert _feedback.uninstall()\n",
    "control flipped": "def corr2d(X, K):\n" + LOOP.format(kernel="K.flip(0, 1)"),
    "control flipped test": TEST_CELL,
}


@pytest.fixture(scope="module")
def shown():
    """{cell name: (outputs, visible error text or None)} after running the notebook once."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS.values()]
    env_path = os.environ.get("PYTHONPATH", "")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env_path) if p)
    os.environ.pop("HELPERS_FULL_TRACEBACKS", None)
    try:
        client = nbclient.NotebookClient(nb, allow_errors=True, timeout=120, kernel_name="python3",
                                         resources={"metadata": {"path": str(ROOT)}})
        client.execute()
    finally:
        if env_path:
            os.environ["PYTHONPATH"] = env_path
        else:
            os.environ.pop("PYTHONPATH", None)
    result = {}
    for name, cell in zip(CELLS, nb.cells):
        errors = [o for o in cell.outputs if o.output_type == "error"]
        text = ANSI.sub("", "\n".join(errors[0].traceback)) if errors else None
        result[name] = (cell.outputs, errors[0] if errors else None, text)
    return result


def error_text(shown, name, ename):
    outputs, error, text = shown[name]
    assert error is not None, f"cell {name!r} has no error output: {outputs}"
    assert error.ename == ename, (error.ename, error.evalue)
    return text


def assert_short_and_clean(text):
    lines = text.strip("\n").splitlines()
    assert len(lines) <= MAX_LINES, f"{len(lines)} lines:\n{text}"
    assert "helpers/" not in text and "helpers\\" not in text, text
    assert "site-packages" not in text and "Traceback" not in text, text
    assert "skipping hidden" not in text, text
    return lines


def test_cells_that_work_have_no_error(shown):
    for name in ("setup", "right", "right test", "after break", "uninstall"):
        outputs, error, _ = shown[name]
        assert error is None, (name, error and error.evalue)
    assert "corr2d: visible tests passed" in "".join(o.get("text", "") for o in shown["right test"][0])


def test_a_failed_check_shows_its_message_only(shown):
    lines = assert_short_and_clean(error_text(shown, "flipped test", "CheckFailure"))
    assert lines[0] == "✗ Exercise failed"
    assert lines[1].startswith("corr2d(X, K): 4 of 4 values are wrong")
    assert "likely cause: the kernel is flipped" in lines[2]  # right under the first line


def test_a_negative_step_shows_the_students_line_and_flip(shown):
    text = error_text(shown, "negative step test", "ValueError")
    lines = assert_short_and_clean(text)
    assert lines[0] == "✗ Your code raised ValueError: step must be greater than zero"
    assert re.fullmatch(r"  in Cell In\[\d+\], line 2: Kf = K\[::-1, ::-1\]", lines[1]), lines[1]
    assert "K.flip(0, 1)" in lines[2]
    assert "whole job" not in text and "your answer called" not in text and "_guard" not in text


def test_a_forbidden_call_says_which_where_and_what_instead(shown):
    for name, called, line in (
        ("forbidden test", "torch.conv2d", "return F.conv2d(X[None, None], K[None, None])[0, 0]"),
        ("reference test", "helpers.corr2d", "return helpers.corr2d(X, K)"),
    ):
        lines = assert_short_and_clean(error_text(shown, name, "ForbiddenCall"))
        assert lines[0].startswith("✗ Exercise failed")
        assert lines[1].startswith(f"your answer called {called}")
        assert re.fullmatch(rf"  in Cell In\[\d+\], line 2: {re.escape(line)}", lines[2]), lines[2]
        assert lines[3].startswith("  instead: ")


@pytest.mark.parametrize("name, ename, words", [
    ("no return", "AttributeError", ["line 4: shape_of(torch.ones(2)).numel()", "`return`"]),
    ("not done", "NotImplementedError", ["line 3: raise NotImplementedError()", "not done yet"]),
    ("not defined", "NameError", ["line 1: conv_output_size(7, 3)", "run the cell that defines it"]),
    ("inside torch", "RuntimeError", ["line 2: layer(torch.ones(4, 3))", "(4x3) @ (5x2)",
                                      "raised inside torch.nn.modules.linear.forward", "%tb"]),
])
def test_other_errors_show_the_line_and_a_hint(shown, name, ename, words):
    text = error_text(shown, name, ename)
    assert_short_and_clean(text)
    for word in words:
        assert word in text, f"{word!r} not in:\n{text}"


@pytest.mark.skipif("feedback" not in (ROOT / "helpers" / "check.py").read_text(),
                    reason="helpers/check.py does not call helpers.feedback.install() yet")
def test_importing_check_installs_the_handler(shown):
    printed = "".join(o.get("text", "") for o in shown["setup"][0])
    assert "installed by importing check: True" in printed, printed


def test_percent_tb_still_shows_the_full_traceback(shown):
    outputs, error, text = shown["full traceback"]
    assert error is not None and error.ename == "RuntimeError", outputs
    assert "Traceback" in text and "linear.py" in text and "layer(torch.ones(4, 3))" in text


def test_a_syntax_error_keeps_ipythons_display(shown):
    text = error_text(shown, "syntax", "SyntaxError")
    assert "def f(:" in text


def test_a_broken_handler_falls_back_to_the_full_traceback(shown):
    text = error_text(shown, "handler breaks", "ValueError")
    assert "shown anyway" in text and "Traceback" in text


def test_without_the_handler_the_same_checks_fail(shown):
    """The control: IPython's own display of the flipped kernel is what the issue complained of."""
    text = error_text(shown, "control flipped test", "CheckFailure")
    with pytest.raises(AssertionError):
        assert_short_and_clean(text)
    assert "likely cause: the kernel is flipped" in text
