"""helpers/exercises/cifar2.py: chapter 6's test cells pass the solution and name each wrong
answer of tests/wrong_answers/06_cifar2.py, in the student's kernel and through the judge
(a fake kernel in this process, as in test_judge), without nbgrader.

test_train_run is left to `python -m course check 06_cifar2` and the grading round trip:
it needs a Net trained on CIFAR-2."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import check
from helpers.exercises import cifar2 as ex
from chapter_cells import cells_by_id, wrong_answers
from test_judge import error_text, judge_for

CHAPTER = "06_cifar2"
SETUP = "import math\nimport torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
ANSWERS = ("cifar2_subset", "net", "net_functional", "off_device_loader", "training_loop", "accuracy",
           "save_load")
TEST_OF = {"cifar2_subset": "test_cifar2_subset", "net": "test_net", "net_functional": "test_net_functional",
           "training_loop": "test_training_loop", "accuracy": "test_accuracy", "save_load": "test_save_load"}


def answers(replacements=None):
    """The kernel's source: the solution's answer cells (and the loader cell), some replaced."""
    cells = cells_by_id(CHAPTER)
    return SETUP + "\n".join((replacements or {}).get(a, cells[a]) for a in ANSWERS)


@pytest.fixture(autouse=True)
def one_thread():
    """Small models on a shared machine: one thread is faster than two fighting for the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("test_id", list(TEST_OF.values()))
def test_the_solution_passes_in_the_kernel(test_id):
    ns = {}
    exec(answers(), ns)
    exec(cells_by_id(CHAPTER)[test_id], ns)          # hidden tests included


@pytest.mark.parametrize("test_id", list(TEST_OF.values()))
def test_the_solution_passes_through_the_judge(test_id):
    judge, _ = judge_for(answers())
    outputs, passed = judge.run_test_cell(cells_by_id(CHAPTER)[test_id], test_id)
    assert passed, error_text(outputs)
    assert "hidden tests passed" in "".join(o.get("text", "") for o in outputs)


@pytest.mark.parametrize("wrong", wrong_answers(CHAPTER), ids=lambda w: w["name"])
def test_each_wrong_answer_is_named_in_the_kernel(wrong):
    ns = {}
    exec(answers(wrong["cells"]), ns)
    messages = []
    for answer in wrong["cells"]:
        with pytest.raises(Exception) as info:
            exec(cells_by_id(CHAPTER)[TEST_OF[answer]], ns)
        messages.append(str(info.value))
    assert wrong["feedback"].lower() in "\n".join(messages).lower()


@pytest.mark.parametrize("wrong", wrong_answers(CHAPTER), ids=lambda w: w["name"])
def test_each_wrong_answer_is_named_through_the_judge(wrong):
    judge, _ = judge_for(answers(wrong["cells"]))
    messages = []
    for answer in wrong["cells"]:
        outputs, passed = judge.run_test_cell(cells_by_id(CHAPTER)[TEST_OF[answer]], TEST_OF[answer])
        assert not passed, f"{wrong['name']} passed {TEST_OF[answer]}"
        messages.append(error_text(outputs))
    assert wrong["feedback"].lower() in "\n".join(messages).lower()


def test_visible_parts_are_short():
    for test_id in [*TEST_OF.values(), "test_train_run"]:
        source = cells_by_id(CHAPTER)[test_id]
        visible = source.split("### BEGIN HIDDEN TESTS")[0] + source.split("### END HIDDEN TESTS")[1]
        lines = visible.strip().splitlines()
        assert len(lines) <= 15, f"{test_id}: {len(lines)} visible lines"
        assert lines[0].startswith("# ") and lines[-1].startswith("print("), test_id


# ------------------------------------------------------------------ the builders, directly

def failure(fn, *args, **kwargs):
    with pytest.raises(check.CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value)


def test_the_net_constants_match_the_course_net():
    from helpers import models

    state = models.Net().state_dict()
    assert list(state) == ex.KEYS
    assert [v.numel() for v in state.values()] == ex.COUNTS
    assert sum(ex.COUNTS) == ex.N_PARAMETERS == 18090


def test_net_mistakes_differ_from_the_net():
    from helpers import models

    torch.manual_seed(0)
    x, p = torch.randn(2, 3, 32, 32), models.Net().state_dict()
    right = models.net_functional(x, p)
    assert torch.allclose(ex.net_variant(x, p), right, atol=1e-6)
    for description, wrong in ex.net_mistakes(x, p).items():
        assert not torch.allclose(wrong, right, atol=1e-4), description
        assert description in failure(ex.check_logits, wrong, x, p, name="logits")


def test_subset_mistakes():
    labels = torch.tensor([2, 0, 5, 2])
    mistakes = ex.subset_mistakes(labels)
    assert mistakes[ex.NOT_RELABELLED].tolist() == [2, 0, 2]
    assert mistakes[ex.SWAPPED].tolist() == [0, 1, 0]


def test_reference_run_mistakes_differ():
    g = torch.Generator().manual_seed(1)
    X, y = torch.randn(10, 5, generator=g), torch.randint(0, 2, (10,), generator=g)
    init = nn.Linear(5, 2).state_dict()
    good, means, sums, lasts = ex.reference_run(init, X, y, 2, 0.3, 4)
    forgetful, _, _, _ = ex.reference_run(init, X, y, 2, 0.3, 4, zero_grad=False)
    assert not torch.allclose(good["weight"], forgetful["weight"])
    assert sums == pytest.approx([3 * m for m in means])
    assert lasts != means


def test_accuracy_tools():
    right = torch.tensor([1., 1, 1, 1, 0, 1, 1, 1, 0, 0], dtype=torch.float64)
    assert ex.expected_accuracy(right, 4) == pytest.approx((0.7, (1 + 0.75 + 0) / 3, 7))
    assert ex.accuracy_mistakes(right, 4) == {ex.BATCH_MEAN: pytest.approx(7 / 12), ex.COUNT: 7}
    model = nn.Sequential(nn.Dropout(0.5), nn.Linear(3, 2))
    X, y = torch.randn(20, 3), torch.randint(0, 2, (20,))
    with torch.no_grad():
        expected = (F.linear(X, model[1].weight, model[1].bias).argmax(1) == y).double()
    assert torch.equal(ex.right_answers(model, X, y), expected)


def test_accuracy_that_trains_is_caught():
    X, y = torch.randn(12, 3), torch.randint(0, 2, (12,))

    def accuracy_then_train(model, loader):
        model.eval()
        with torch.no_grad():
            right = sum(int((model(a).argmax(1) == b).sum()) for a, b in loader)
            model.weight.add_(1.0)
        return right / len(y)

    assert "measuring must not change the weights" in failure(
        ex.check_accuracy, accuracy_then_train, nn.Linear(3, 2), X, y, 4, name="accuracy")


def test_as_floats():
    assert ex.as_floats((1, 2.5), 2, "f") == [1.0, 2.5]
    assert "expected a list of 3 mean losses (one per epoch), got list of length 2" in failure(
        ex.as_floats, [1, 2], 3, "f")
    assert "got float" in failure(ex.as_floats, 1.0, 1, "f")
