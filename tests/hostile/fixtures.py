"""Hostile submissions, generated from the notebook they attack.

Each case starts from the chapter's release notebook (what students get), fills
answer cells from the source notebook's solutions (or leaves them blank, or
puts a wrong answer), then does one nasty thing. Because they are built from
the current notebooks, the cases follow the chapter as it changes.

    cases = build_cases(source_nb, release_nb, wrong={"corr2d": "..."}, ...)
    cases["infinite_loop"].data       # the .ipynb bytes to submit
    cases["infinite_loop"].expect     # Expect(status, auto_score, reason)

To look at them: python tests/hostile/fixtures.py SOURCE.ipynb RELEASE.ipynb OUT_DIR

`auto_score` is the automatic points expected (None for error/timeout).
"""
import copy
import dataclasses
import re

import nbformat

SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


@dataclasses.dataclass
class Expect:
    status: str                 # graded | error | timeout
    auto_score: object = None   # float, or None when not graded
    reason: str = ""            # a phrase the reason must contain (case-insensitive)


@dataclasses.dataclass
class Case:
    data: bytes
    expect: Expect
    what: str


# ------------------------------------------------------------------ helpers

def meta(cell):
    return cell.metadata.get("nbgrader", {})


def answer_ids(nb):
    return [meta(c)["grade_id"] for c in nb.cells
            if meta(c).get("solution") and not meta(c).get("grade") and c.cell_type == "code"]


def test_cells(nb):
    return [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")
            and c.cell_type == "code"]


def auto_points(nb):
    return float(sum(meta(c)["points"] for c in test_cells(nb)))


def solutions(source_nb):
    """{answer grade_id: the solution code, markers removed}."""
    return {meta(c)["grade_id"]: SOLUTION.sub("", c.source)
            for c in source_nb.cells if meta(c).get("grade_id") in answer_ids(source_nb)}


def filled(release_nb, answers):
    """A copy of the release notebook with answer cells replaced by `answers`."""
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if meta(cell).get("grade_id") in answers:
            cell.source = answers[meta(cell)["grade_id"]]
    return nb


def index_of(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if meta(c).get("grade_id") == grade_id)


def insert_after_setup(nb, source):
    """Add a code cell right after the first code cell (the setup cell)."""
    first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    nb.cells.insert(first + 1, nbformat.v4.new_code_cell(source))
    return nb


def prepend_to_answer(nb, grade_id, code):
    cell = nb.cells[index_of(nb, grade_id)]
    cell.source = code + "\n" + cell.source
    return nb


def append_to_answer(nb, grade_id, code):
    cell = nb.cells[index_of(nb, grade_id)]
    cell.source = cell.source + "\n" + code
    return nb


def points_of_test_after(nb, answer_id):
    """Points of the first test cell after answer `answer_id`."""
    k = index_of(nb, answer_id)
    return float(next(meta(c)["points"] for c in nb.cells[k:] if c in test_cells(nb)))


def to_bytes(nb):
    return nbformat.writes(nb).encode()


# ------------------------------------------------------------------ the cases

def build_cases(source_nb, release_nb, wrong=None, other_nb=None, forbidden_paths=(),
                secret_path=None, full_set=True):
    """All hostile cases for one chapter.

    wrong: {answer id: wrong code} for at least the first answer (omit: no 'wrong' cases).
    other_nb: a notebook of another chapter (for 'other_chapter').
    forbidden_paths: files the 'file_writes' case tries to create (absolute paths);
        the test checks that none appears.
    secret_path: a file the 'file_writes' case tries to read and print (the
        instructor's source notebook); its hidden tests must not reach any output.
    full_set: False gives only correct and blank (enough for a real chapter).
    """
    sol = solutions(source_nb)
    total = auto_points(source_nb)
    first = answer_ids(source_nb)[0]
    first_points = points_of_test_after(source_nb, first)
    correct = filled(release_nb, sol)
    cases = {
        "correct": Case(to_bytes(correct), Expect("graded", total), "the solution"),
        "blank": Case(to_bytes(release_nb), Expect("graded", 0.0), "the release notebook untouched"),
    }
    if not full_set:
        return cases
    wrong = wrong or {}
    wrong_nb = filled(release_nb, {**sol, **wrong}) if wrong else None
    wrong_points = total - sum(points_of_test_after(source_nb, k) for k in wrong)

    def add(name, nb, expect, what):
        cases[name] = Case(to_bytes(nb) if not isinstance(nb, bytes) else nb, expect, what)

    if wrong:
        add("wrong", wrong_nb, Expect("graded", wrong_points), "plausible wrong answers")

    add("infinite_loop", prepend_to_answer(copy.deepcopy(correct), first, "while True:\n    pass"),
        Expect("graded", total - first_points, "interrupted"),
        "an answer cell that never ends: interrupted, the rest is graded")
    add("sigint_ignored", prepend_to_answer(copy.deepcopy(correct), first,
                                            "import signal, time\n"
                                            "signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                            "while True:\n    time.sleep(0.05)"),
        Expect("timeout", None, "did not stop when interrupted"),
        "a loop that ignores SIGINT: the kernel is killed")
    add("kernel_crash", append_to_answer(copy.deepcopy(correct), first, "import os\nos._exit(3)"),
        Expect("error", None, "exited with code 3"), "os._exit in an answer cell")
    add("memory_bomb", append_to_answer(copy.deepcopy(correct), first,
                                        "def _grow():\n    blocks = []\n    while True:\n"
                                        "        blocks.append(torch.empty(10**8))\n_grow()"),
        Expect("graded", total), "allocates until the memory limit: a MemoryError in that cell only")
    add("big_output", append_to_answer(copy.deepcopy(correct), first,
                                       "for _ in range(100):\n    print('x' * 2**20)"),
        Expect("graded", total), "100 MB printed: truncated while it runs")
    edited = copy.deepcopy(wrong_nb or release_nb)
    for cell in test_cells(edited):
        cell.source = "pass"
    add("test_edited", edited, Expect("graded", wrong_points if wrong else 0.0),
        "test cells replaced by `pass`")
    deleted = copy.deepcopy(wrong_nb or release_nb)
    deleted.cells = [c for c in deleted.cells if c not in test_cells(deleted)]
    add("test_deleted", deleted, Expect("graded", wrong_points if wrong else 0.0),
        "test cells deleted (restored from the gradebook)")
    stripped = copy.deepcopy(correct)
    for cell in stripped.cells:
        cell.metadata.pop("nbgrader", None)
    add("metadata_stripped", stripped, Expect("graded", total, "restored"),
        "every cell's nbgrader metadata removed (Colab, jupytext)")
    add("reordered", _swap_exercises(correct), Expect("graded", total),
        "the exercises in another order")
    duplicated = copy.deepcopy(correct)
    k = index_of(duplicated, first)
    copies = copy.deepcopy(duplicated.cells[k:k + 2])
    for n, cell in enumerate(copies):
        cell.id = f"copy-{n}-{cell.get('id', '')}"[:64]
    duplicated.cells[k + 1:k + 1] = copies
    add("duplicated", duplicated, Expect("graded", total),
        "an answer cell and its test cell duplicated (points counted once)")
    add("corrupt_json", to_bytes(correct)[:-200], Expect("error", None, "not a valid notebook"),
        "a truncated .ipynb file")
    if other_nb is not None:
        add("other_chapter", other_nb, Expect("error", None, "wrong chapter"),
            "the notebook of another chapter")
    if wrong:
        patched = insert_after_setup(copy.deepcopy(wrong_nb), PATCH_TORCH_AND_CHECK)
        add("monkeypatch_check", patched, Expect("graded", wrong_points, "review"),
            "torch.allclose, helpers.check functions and `check` itself replaced")
        add("monkeypatch_reference", insert_after_setup(copy.deepcopy(wrong_nb),
                                                        PATCH_REFERENCE.format(name=first)),
            Expect("error", None, "replaced by code from the submission"),
            "a helpers reference kernel replaced by the student's function")
        add("rebind_during_test", append_to_answer(copy.deepcopy(wrong_nb), first,
                                                    REBIND_DURING_TEST.format(name=first)),
            Expect("error", None, "replaced while the test cell ran"),
            "the answer swaps `check` for a fake while the test calls it")
        add("input_transformer", insert_after_setup(copy.deepcopy(wrong_nb), BLANKING_TRANSFORMER),
            Expect("error", None, "did not run as written"),
            "an IPython input transformer that blanks every later cell")
    add("file_writes", insert_after_setup(copy.deepcopy(correct),
                                          file_writes_code(forbidden_paths, secret_path)),
        Expect("graded", total), "writes outside its folder, reads the instructor's notebook")
    add("kill_grader", insert_after_setup(copy.deepcopy(correct), KILL_GRADER),
        Expect("graded", total), "signals its parent (the grader's worker)")
    add("stderr_warning", append_to_answer(copy.deepcopy(correct), first,
                                           STDERR_NOISE.format(name=first)),
        Expect("graded", total), "correct code that prints warnings to stderr")
    slow = copy.deepcopy(correct)
    for _ in range(6):
        slow.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(6)"))
    add("notebook_timeout", slow, Expect("timeout", None, "notebook ran past"),
        "many slow cells, each under the cell limit, together over the notebook limit")
    return cases


def _swap_exercises(nb):
    """Move the last exercise (its answer cell through its test cell) before the first."""
    nb = copy.deepcopy(nb)
    ids = answer_ids(nb)
    if len(ids) < 2:
        return nb
    a, b = index_of(nb, ids[0]), index_of(nb, ids[-1])
    end_b = next(i for i in range(b, len(nb.cells)) if nb.cells[i] in test_cells(nb))
    block = nb.cells[b:end_b + 1]
    rest = nb.cells[:b] + nb.cells[end_b + 1:]
    nb.cells = rest[:a] + block + rest[a:]
    return nb


PATCH_TORCH_AND_CHECK = """\
import contextlib, types
torch.allclose = lambda *a, **k: True
torch.equal = lambda *a, **k: True
helpers.check.close = lambda *a, **k: None
helpers.check.equal = lambda *a, **k: None
check = types.SimpleNamespace(close=lambda *a, **k: None, equal=lambda *a, **k: None,
                              shape=lambda *a, **k: None, tensor=lambda *a, **k: None,
                              forbid=lambda *a: contextlib.nullcontext())"""

PATCH_REFERENCE = """\
_mine = lambda *a, **k: {name}(*a, **k)
helpers.{name} = _mine"""

REBIND_DURING_TEST = """\
_real_{name} = {name}
def {name}(*args, **kwargs):
    import contextlib, types
    fake = types.SimpleNamespace(close=lambda *a, **k: None, equal=lambda *a, **k: None,
                                 shape=lambda *a, **k: None, tensor=lambda *a, **k: None,
                                 forbid=lambda *a: contextlib.nullcontext())
    globals()["check"] = fake
    return _real_{name}(*args, **kwargs)"""

BLANKING_TRANSFORMER = """\
get_ipython().input_transformers_cleanup.append(lambda lines: [])"""

KILL_GRADER = """\
import os, signal
try:
    os.kill(os.getppid(), signal.SIGKILL)
    print("killed the grader?!")
except OSError as exc:
    print("could not signal the grader:", exc)"""

STDERR_NOISE = """\
import sys, warnings
_quiet_{name} = {name}
def {name}(*args, **kwargs):
    warnings.warn("this API is deprecated (a harmless warning)")
    print("a note on stderr", file=sys.stderr)
    return _quiet_{name}(*args, **kwargs)"""


def file_writes_code(paths, secret_path):
    lines = ["import os", "_attempts = {}"]
    for path in paths:
        lines += [f"try:\n    with open({str(path)!r}, 'w') as f:\n        f.write('pwned')\n"
                  f"    _attempts[{str(path)!r}] = 'written'\n"
                  f"except OSError as exc:\n    _attempts[{str(path)!r}] = repr(exc)"]
    lines += ["try:\n    open('../../gradebook.db', 'a').write('x')\nexcept OSError:\n    pass"]
    if secret_path:
        lines += [f"try:\n    print(open({str(secret_path)!r}).read())\n"
                  f"except OSError as exc:\n    print('cannot read the source:', exc)"]
    lines += ["print(_attempts)"]
    return "\n".join(lines)


def main(argv=None):
    """python tests/hostile/fixtures.py SOURCE.ipynb RELEASE.ipynb OUT_DIR: write every case."""
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        print(main.__doc__)
        return 2
    source, release = (nbformat.read(p, as_version=4) for p in args[:2])
    out = Path(args[2])
    out.mkdir(parents=True, exist_ok=True)
    wrong = {}  # without chapter-specific wrong answers, the 'wrong' cases are left out
    for name, case in build_cases(source, release, wrong).items():
        (out / f"{name}.ipynb").write_bytes(case.data)
        print(f"{name:22} expect {case.expect.status} {case.expect.auto_score}  ({case.what})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
