"""helpers/exercises/lenet5.py: chapter 7's test cells pass the solution and name each wrong
answer of tests/wrong_answers/07_lenet5.py, in the student's kernel and through the judge
(a fake kernel in this process, as in test_judge), without nbgrader."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import check
from helpers.exercises import lenet5 as ex
from chapter_cells import cells_by_id, wrong_answers
from test_judge import error_text, judge_for

CHAPTER = "07_lenet5"
SETUP = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
TEST_OF = {"LeNet5": "test_LeNet5", "layer_parameter_counts": "test_layer_parameter_counts",
           "fit": "test_fit", "confusion": "test_confusion", "mnist_cnn": "test_mnist_cnn"}


def answers(replacements=None):
    """The kernel's source: the solution's answer cells, some replaced."""
    cells = cells_by_id(CHAPTER)
    return SETUP + "\n".join((replacements or {}).get(a, cells[a]) for a in TEST_OF)


@pytest.fixture()
def two_threads():
    """The kernel's number of threads, which test_fit's real run sets to one for a while."""
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield 2
    torch.set_num_threads(threads)


@pytest.mark.parametrize("test_id", list(TEST_OF.values()))
def test_the_solution_passes_in_the_kernel(test_id, two_threads):
    ns = {}
    exec(answers(), ns)
    exec(cells_by_id(CHAPTER)[test_id], ns)          # hidden tests included
    assert torch.get_num_threads() == two_threads


@pytest.mark.parametrize("test_id", list(TEST_OF.values()))
def test_the_solution_passes_through_the_judge(test_id, two_threads):
    judge, _ = judge_for(answers())
    outputs, passed = judge.run_test_cell(cells_by_id(CHAPTER)[test_id], test_id)
    assert passed, error_text(outputs)
    assert "hidden tests passed" in "".join(o.get("text", "") for o in outputs)
    assert torch.get_num_threads() == two_threads


def test_the_real_run_trains_on_one_thread_and_gives_the_threads_back(two_threads):
    seen = []

    def fit(model, loader, optimizer, epochs, device):
        seen.append(torch.get_num_threads())
        raise ValueError("no training today")

    with pytest.raises(ValueError):
        ex.check_fit_learns(fit, seed=0, train_size=100, batch_size=50, lr=1e-3, test_size=10, at_least=0.8)
    assert seen == [1] and torch.get_num_threads() == two_threads


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
    for test_id in TEST_OF.values():
        source = cells_by_id(CHAPTER)[test_id]
        visible = source.split("### BEGIN HIDDEN TESTS")[0] + source.split("### END HIDDEN TESTS")[1]
        lines = visible.strip().splitlines()
        assert len(lines) <= 20, f"{test_id}: {len(lines)} visible lines"
        assert lines[0].startswith("# ") and lines[-1].startswith("print("), test_id


# ------------------------------------------------------------------ the builders, directly

def failure(fn, *args, **kwargs):
    with pytest.raises(check.CheckFailure) as info:
        fn(*args, **kwargs)
    return str(info.value)


class TanhLeNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=10, image_size=32):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 6, 5, padding=(32 - image_size) // 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1, self.fc2, self.fc3 = nn.Linear(400, 120), nn.Linear(120, 84), nn.Linear(84, num_classes)

    def forward(self, x):
        x = F.max_pool2d(torch.tanh(self.conv1(x)), 2)
        x = F.max_pool2d(torch.tanh(self.conv2(x)), 2)
        x = torch.tanh(self.fc1(torch.flatten(x, 1)))
        return self.fc3(torch.tanh(self.fc2(x)))


def test_lenet5_mistakes_are_named():
    assert ex.TANH in failure(ex.check_lenet5, TanhLeNet, 3, 10, 32, batch=2, total=62006)

    class Softmaxed(TanhLeNet):
        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.fc2(F.relu(self.fc1(torch.flatten(x, 1)))))
            return torch.softmax(self.fc3(x), 1)

    assert ex.SOFTMAX in failure(ex.check_lenet5, Softmaxed, 1, 10, 28, batch=3, total=61706)
    assert "the parameter count of LeNet5(3, 10, 32)" in failure(ex.check_lenet5, TanhLeNet, 3, 10, 32,
                                                                 batch=2, total=62000)


def test_buffers_are_named():
    seq = nn.Sequential(nn.Conv2d(2, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU())

    def with_buffers(model):
        return {n: sum(t.numel() for t in c.state_dict().values()) for n, c in model.named_children()
                if list(c.parameters())}

    assert ex.BUFFERS in failure(ex.check_layer_counts, with_buffers, seq, {"0": 72, "1": 8},
                                 with_buffers=[72, 17], name="seq")


def test_replay_fit_needs_no_sample_of_every_class():
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    X, y = torch.randn(3, 3, 2, 2), torch.tensor([0, 1, 1])         # no sample of class 2
    ref = ex.replay_fit(state, X, y, batch_size=2, lr=0.5, epochs=2)
    assert len(ref["loss"]) == len(ref["acc_mm"]) == 2
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())    # state untouched


def test_confusion_builders_agree_with_a_bincount():
    preds, labels = torch.randint(0, 4, (50,)), torch.randint(0, 4, (50,))
    cm = ex.expected_confusion(preds, labels, 4)
    assert cm.dtype == torch.int64
    assert torch.equal(cm, torch.bincount(labels * 4 + preds, minlength=16).reshape(4, 4))
    assert torch.equal(ex.confusion_mistakes(cm)[ex.TRANSPOSED], cm.T)
    assert ex.expected_accuracy(torch.tensor([[1, 1], [0, 0]])).isnan()[1]
    assert ex.other_pooling("avg") == "the other kind of pooling: 'avg' asks for nn.AvgPool2d"
