"""The judge and its wire, without a kernel: a fake link answers with helpers.wire.serve
on a plain namespace, exactly as the kernel does (docs/grading.md)."""
import json
import sys
import types

import nbformat
import numpy as np
import pytest
import torch

from autograde import answers
from autograde.judge import Judge, Remote, StudentCodeError, is_graded_test
from helpers import wire


class FakeKernel:
    """A 'student kernel' in this process: a namespace, answered through wire.serve."""

    def __init__(self, source):
        self.ns = {}
        exec(source, self.ns)
        self.requests = 0

    def send(self, expression, timeout):
        self.requests += 1
        payload = expression.split(".serve(", 1)[1][:-1]
        from helpers import check

        main = sys.modules["__main__"]
        saved, judge = dict(main.__dict__), check._judge
        main.__dict__.update(self.ns)
        check._judge = None          # this 'kernel' shares the judge's modules: not judging here
        try:
            return repr(eval(f"__import__('helpers.wire', fromlist=['serve']).serve({payload})"))
        finally:
            check._judge = judge
            for key in set(main.__dict__) - set(saved):
                self.ns[key] = main.__dict__.pop(key)
            main.__dict__.update(saved)


def judge_for(source):
    from autograde.judge import KernelLink

    kernel = FakeKernel(source)
    return Judge(KernelLink(kernel.send, 10)), kernel


def error_text(outputs):
    return "\n".join(o.evalue for o in outputs if o.output_type == "error")


STUDENT = '''
import torch
def double(x):
    return x * 2
def scale_in_place(x):
    x.mul_(3)
    return None
def picky(n):
    if n < 0:
        raise ValueError("n must be >= 0")
    return n
Y0 = [[1, 2], [3, 4]]
model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU())
'''


# ------------------------------------------------------------------ the wire

@pytest.mark.parametrize("value", [
    torch.arange(6, dtype=torch.float32).reshape(2, 3), torch.tensor([True, False]),
    torch.tensor([1.5, -2.0], dtype=torch.bfloat16), torch.zeros(0, 4, dtype=torch.int64),
    np.arange(4.0).reshape(2, 2), (1, 2.5, "x", None, [True]), {"a": 1, 2: [3]},
    float("nan"), 2**70, torch.float64, torch.Size([2, 3]),
])
def test_plain_data_round_trips(value):
    back = wire.decode(json.loads(json.dumps(wire.encode(value, {}))))
    if isinstance(value, torch.Tensor):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert torch.equal(back.float(), value.float())
    elif isinstance(value, np.ndarray):
        assert np.array_equal(back, value)
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value


def test_objects_stay_behind_as_references():
    registry = {}
    data = wire.encode(torch.nn.ReLU(), registry)
    assert data["__ref__"] in registry and data["type"].endswith("ReLU")
    assert isinstance(wire.decode(data), wire.Reference)


@pytest.mark.parametrize("bad", [
    {"__tensor__": {"dtype": "float32", "shape": [2], "data": "AAAA"}},          # 3 bytes
    {"__tensor__": {"dtype": "object", "shape": [1], "data": ""}},
    {"__pickle__": "gASV"}, {"__float__": "1e999"}, {"__dtype__": "os.system"},
    {"__dict__": [[{"__ref__": "0"}, 1]]},
])
def test_the_judge_refuses_what_is_not_plain_data(bad):
    with pytest.raises(wire.WireError):
        wire.decode(bad)


def test_too_many_items_are_refused():
    with pytest.raises(wire.WireError):
        wire.decode([0] * (wire.MAX_ITEMS + 1))


# ------------------------------------------------------------------ the judge

def test_a_test_cell_calls_the_student_and_decides_here():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell(
        "x = torch.tensor([1., 2.])\ncheck.close(double(x), torch.tensor([2., 4.]), name='double(x)')\n"
        "check.equal(Y0, [[1, 2], [3, 4]], name='Y0')\nprint('ok')")
    assert passed and outputs[0].text == "ok\n"


def test_a_wrong_answer_fails_with_the_checks_message_only():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell(
        "check.close(double(torch.ones(2)), torch.full((2,), 3.), name='double(x)',\n"
        "            mistakes={'it doubles instead of tripling': torch.full((2,), 2.)})")
    text = error_text(outputs)
    assert not passed and "likely cause: it doubles" in text.split("\n")[1]
    assert "Traceback" not in text and "check.close" not in text


def test_changes_to_inputs_come_back():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell(
        "x = torch.ones(3)\nscale_in_place(x)\ncheck.close(x, torch.ones(3), name='x after the call')")
    assert not passed and "x after the call" in error_text(outputs)


def test_the_students_exception_keeps_its_type_and_shows_their_line():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell(
        "try:\n    picky(-1)\n    raise check.CheckFailure('no error')\nexcept ValueError:\n    print('raised')")
    assert passed and outputs[0].text == "raised\n"
    outputs, passed = judge.run_test_cell("picky(-1)")
    assert not passed and "picky(-1) raised ValueError: n must be >= 0" in error_text(outputs)


def test_objects_are_proxies_that_answer_with_data():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell(
        "assert isinstance(model, nn.Sequential)\n"
        "sizes = [tuple(p.shape) for p in model.parameters()]\n"
        "check.equal(sizes, [(3, 2), (3,)], name='parameter shapes')\n"
        "check.shape(model(torch.ones(4, 2)), (4, 3), name='model(x)')\n"
        "check.equal([repr(m) for m in model.children()][1], 'ReLU()', name='second layer')")
    assert passed, error_text(outputs)
    assert isinstance(judge.namespace["model"], Remote)


def test_check_make_builds_in_the_kernel():
    judge, kernel = judge_for(STUDENT + "def first_weight(opt):\n    return opt.param_groups[0]['lr']\n")
    outputs, passed = judge.run_test_cell(
        "opt = check.make('torch.optim.SGD', model.parameters(), lr=0.5)\n"
        "check.equal(first_weight(opt), 0.5, name='lr')")
    assert passed, error_text(outputs)


def test_a_missing_answer_says_what_to_do():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell("check.equal(Y1, 3, name='Y1')")
    assert not passed and "Y1 is not defined in your notebook" in error_text(outputs)


def test_the_students_name_wins_over_an_earlier_tests():
    judge, kernel = judge_for(STUDENT + "losses = [1, 2, 3]\n")
    judge.run_test_cell("losses = [9]")                          # an earlier test's own name
    outputs, passed = judge.run_test_cell("check.equal(len(losses), 3, name='len(losses)')")
    assert passed, error_text(outputs)
    outputs, passed = judge.run_test_cell("_helper = 5")
    outputs, passed = judge.run_test_cell("check.equal(_helper, 5, name='an earlier test name')")
    assert passed, error_text(outputs)


def test_forbid_travels_to_the_kernel_as_names():
    judge, _ = judge_for(STUDENT + "import torch.nn.functional as F\n"
                                   "def cheat(x):\n    return F.relu(x)\n")
    outputs, passed = judge.run_test_cell(
        "with check.forbid(F.relu, 'corr2d'):\n    cheat(torch.ones(2))")
    assert not passed and "torch.nn.functional.relu" in error_text(outputs)
    assert judge.forbidden_seen == {"torch.nn.functional.relu", "corr2d"}


def test_a_test_cannot_hand_a_live_object_to_the_student():
    judge, _ = judge_for(STUDENT)
    outputs, passed = judge.run_test_cell("double(torch.nn.ReLU())")
    assert not passed and "check.make" in error_text(outputs)


# ------------------------------------------------------------------ the source check

def _cells(*sources, solution_at=(0,)):
    cells = []
    for i, src in enumerate(sources):
        cell = nbformat.v4.new_code_cell(src)
        if i in solution_at:
            cell.metadata["nbgrader"] = {"solution": True, "grade": False, "grade_id": f"a{i}"}
        cells.append(cell)
    test = nbformat.v4.new_code_cell("check.equal(1, 1)")
    test.metadata["nbgrader"] = {"grade": True, "solution": False, "grade_id": "t", "points": 1}
    return cells + [test]


@pytest.mark.parametrize("answer, helper, found", [
    ("def corr2d(X, K):\n    return F.conv2d(X[None, None], K[None, None])[0, 0]", "", "F.conv2d"),
    ("def corr2d(X, K):\n    return go(X, K)", "def go(X, K):\n    return X.unfold(0, 2, 1)", ".unfold"),
    ("import scipy.signal\ndef corr2d(X, K):\n    return scipy.signal.correlate2d(X, K)", "", ".correlate2d"),
    ("def corr2d(X, K):\n    import helpers\n    return helpers.corr2d(X, K)", "", "helpers.corr2d"),
    ("from torch.nn.functional import conv2d as c\ndef corr2d(X, K):\n    return c(X, K)", "", "import conv2d"),
])
def test_the_source_check_finds_forbidden_calls(answer, helper, found):
    cells = _cells(answer, helper)
    uses = answers.forbidden_uses(cells, len(cells) - 1, {"corr2d", "torch.nn.functional.conv2d",
                                                          "torch.Tensor.unfold"})
    assert uses and found in uses[0][0]


def test_the_source_check_leaves_honest_code_alone():
    cells = _cells("def corr2d(X, K):\n    return (X[:2, :2] * K).sum()",
                   "demo = F.conv2d(torch.ones(1, 1, 3, 3), torch.ones(1, 1, 2, 2))",   # not called
                   "def train(model):\n    model.train()")
    assert answers.forbidden_uses(cells, len(cells) - 1, {"corr2d", "train",
                                                          "torch.nn.functional.conv2d"}) == []


def test_graded_test_cells_are_recognised():
    cells = _cells("x = 1")
    assert [is_graded_test(c) for c in cells] == [False, True]


def test_a_failure_caused_by_an_earlier_wrong_function_says_fix_it_first():
    import nbformat
    from autograde.judge import earlier_failure_note

    v4 = nbformat.v4

    def answer(source, grade_id):
        return v4.new_code_cell(source, metadata={"nbgrader": {"solution": True, "grade": False,
                                                               "grade_id": grade_id}})

    def test(grade_id, failed):
        cell = v4.new_code_cell("check()", metadata={"nbgrader": {"grade": True, "solution": False,
                                                                  "grade_id": grade_id, "points": 1}})
        if failed:
            cell.outputs = [v4.new_output("error", ename="CheckFailure", evalue="wrong", traceback=["wrong"])]
        return cell

    cells = [answer("def corr2d(X, K):\n    return X", "a1"), test("test_corr2d", failed=True),
             answer("def helper(X):\n    return corr2d(X, X)\n\ndef multi(X):\n    return helper(X)", "a2"),
             test("test_multi", failed=False),
             answer("def unrelated(X):\n    return X", "a3"), test("test_unrelated", failed=False)]

    def failing():
        return [v4.new_output("error", ename="CheckFailure", evalue="multi(X): wrong.\n  expected 1",
                              traceback=["x"])]

    noted = earlier_failure_note(cells, 3, failing())[0]
    assert noted["evalue"].splitlines()[1] == (
        "  note: this answer uses corr2d, which failed its own test above: "
        "fix corr2d first, then run this test again.")
    assert noted["traceback"] == noted["evalue"].splitlines()
    # An exercise that does not use the failed function gets no note.
    assert earlier_failure_note(cells, 5, failing())[0]["evalue"] == "multi(X): wrong.\n  expected 1"
    # Nor does one whose earlier exercise passed.
    cells[1].outputs = []
    assert "note:" not in earlier_failure_note(cells, 3, failing())[0]["evalue"]
