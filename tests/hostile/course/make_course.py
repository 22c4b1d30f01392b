"""Write the fixture course the hostile suite attacks: two tiny chapters in the course's style.

    python tests/hostile/course/make_course.py     # rewrites source/*/ *.ipynb here

ch_fixture: corr2d (3 points, hidden tests), out_size (2 points, hidden tests),
a written answer (1 point, graded by hand). ch_other: relu (1 point), the
"notebook of another chapter". Hidden tests carry the marker HIDDEN_FIXTURE_LINE
so leak checks can look for it in feedback.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

SETUP = """\
import torch
import torch.nn.functional as F
import helpers
from helpers import check
torch.manual_seed(0)"""

CORR2D = '''\
def corr2d(X, K):
    """Valid 2-D cross-correlation. X: (H, W), K: (kh, kw) -> (H-kh+1, W-kw+1)."""
    ### BEGIN SOLUTION
    kh, kw = K.shape
    Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
    ### END SOLUTION'''

TEST_CORR2D = '''\
X = torch.tensor([[0., 1, 2], [3, 4, 5], [6, 7, 8]])
K = torch.tensor([[0., 1], [2, 3]])
with check.forbid("corr2d", F.conv2d, torch.conv2d):
    out = corr2d(X, K)
check.close(out, torch.tensor([[19., 25], [37, 43]]), name="corr2d(X, K)",
            mistakes={"the kernel is flipped: that is convolution, not cross-correlation":
                      helpers.corr2d(X, K.flip(0, 1))})
### BEGIN HIDDEN TESTS
g = torch.Generator().manual_seed(1)  # HIDDEN_FIXTURE_LINE random shapes
for _ in range(3):
    Xh, Kh = torch.randn(6, 7, generator=g), torch.randn(3, 2, generator=g)
    with check.forbid("corr2d", F.conv2d, torch.conv2d):
        outh = corr2d(Xh, Kh)
    check.close(outh, helpers.corr2d(Xh, Kh), name="corr2d on a random 6x7 input",
                mistakes={"the kernel is flipped": helpers.corr2d(Xh, Kh.flip(0, 1))})
### END HIDDEN TESTS
print("corr2d: all visible tests passed")'''

OUT_SIZE = '''\
def out_size(n, f, p=0, s=1):
    """Output size of a convolution: input n, kernel f, padding p, stride s."""
    ### BEGIN SOLUTION
    return (n + 2 * p - f) // s + 1
    ### END SOLUTION'''

TEST_OUT_SIZE = '''\
check.equal(out_size(7, 3), 5, name="out_size(7, 3)")
### BEGIN HIDDEN TESTS
for n, f, p, s in [(32, 5, 2, 1), (28, 3, 0, 2), (9, 4, 1, 3)]:  # HIDDEN_FIXTURE_LINE table
    check.equal(out_size(n, f, p, s), helpers.conv_output_size(n, f, p, s),
                name=f"out_size({n}, {f}, {p}, {s})")
### END HIDDEN TESTS
print("out_size: all visible tests passed")'''

RELU = '''\
def relu(x):
    """max(x, 0), elementwise."""
    ### BEGIN SOLUTION
    return x.clamp(min=0)
    ### END SOLUTION'''

TEST_RELU = '''\
check.close(relu(torch.tensor([-1., 2.])), torch.tensor([0., 2.]), name="relu")
### BEGIN HIDDEN TESTS
check.close(relu(torch.tensor([-3.])), torch.tensor([0.]), name="relu(-3)")  # HIDDEN_FIXTURE_LINE
### END HIDDEN TESTS'''


def nbg(cell, grade_id, grade=False, solution=False, locked=False, points=None):
    cell.metadata["nbgrader"] = {"grade": grade, "solution": solution, "locked": locked,
                                 "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        cell.metadata["nbgrader"]["points"] = points
    return cell


def answer(source, grade_id):
    return nbg(new_code_cell(source), grade_id, solution=True)


def test(source, grade_id, points):
    return nbg(new_code_cell(source), grade_id, grade=True, locked=True, points=points)


def notebook(cells):
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def fixture_chapter():
    return notebook([
        new_markdown_cell("# Fixture chapter\nA tiny chapter for the grader's tests."),
        new_code_cell(SETUP),
        new_markdown_cell("## Exercise 1: cross-correlation"),
        answer(CORR2D, "corr2d"),
        test(TEST_CORR2D, "test_corr2d", 3),
        new_markdown_cell("## Exercise 2: output size"),
        answer(OUT_SIZE, "out_size"),
        test(TEST_OUT_SIZE, "test_out_size", 2),
        nbg(new_markdown_cell("Why is the output smaller than the input?\n\n"
                              "Because the kernel must fit inside the input."),
            "why_smaller", grade=True, solution=True, points=1),
        new_markdown_cell("## Summary\nDone."),
    ])


def other_chapter():
    return notebook([
        new_markdown_cell("# Another chapter"),
        new_code_cell(SETUP),
        answer(RELU, "relu"),
        test(TEST_RELU, "test_relu", 1),
    ])


def main(root=HERE):
    for name, nb in (("ch_fixture", fixture_chapter()), ("ch_other", other_chapter())):
        folder = Path(root) / "source" / name
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, folder / f"{name}.ipynb")


if __name__ == "__main__":
    main()
