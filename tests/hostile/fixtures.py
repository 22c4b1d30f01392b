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
    add("sigkill_self", append_to_answer(copy.deepcopy(correct), first,
                                         "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
        Expect("error", None, "retried once: on the first try the kernel was killed by signal 9 "
                              "from outside the grader"),
        "SIGKILL with no limit reached: told apart from the limits, retried once, then reported")
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
        # Since test cells run in the judge, tricks in the kernel earn what the honest
        # work in the notebook deserves: here, the wrong answer's points.
        add("monkeypatch_reference", insert_after_setup(copy.deepcopy(wrong_nb),
                                                        PATCH_REFERENCE.format(name=first)),
            Expect("graded", wrong_points), "a helpers reference kernel replaced by the student's function")
        add("rebind_during_test", append_to_answer(copy.deepcopy(wrong_nb), first,
                                                    REBIND_DURING_TEST.format(name=first)),
            Expect("graded", wrong_points), "the answer swaps `check` for a fake while the test calls it")
        add("input_transformer", insert_after_setup(copy.deepcopy(wrong_nb), BLANKING_TRANSFORMER),
            Expect("graded", 0.0), "an IPython input transformer that blanks every later cell "
                                    "(so no answer is ever defined)")
        for name, code, what in JUDGE_ATTACKS:
            expect = (Expect("error", None, "did not answer the grader") if name == "execute_handler"
                      else Expect("graded", wrong_points))
            add(name, insert_after_setup(copy.deepcopy(wrong_nb), code.format(name=first)), expect, what)
    for name, code, what in THIEVES:
        add(name, append_to_answer(copy.deepcopy(correct), first, code.format(name=first)),
            Expect("graded", total - first_points), what)
    for name, code, what in NEIGHBOURS:
        nb = insert_after_setup(copy.deepcopy(correct), code)
        if name == "script_injection":
            nb.cells.append(nbformat.v4.new_markdown_cell(
                "<script>window.AG_PWNED = 5</script><iframe src='javascript:alert(1)'></iframe>"))
        add(name, nb, Expect("graded", total), what)
    add("fake_sandbox_message", append_to_answer(copy.deepcopy(correct), first, FAKE_SANDBOX_MESSAGE),
        Expect("error", None, "exited with code 3"),
        "writes a line that looks like the sandbox's own message, then exits")
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


# ------------------------------------------------------------------ issue 7's classes
# Each wraps a wrong answer: whatever it does in its own interpreter, it earns the
# wrong answer's points (the judge sees only the data its functions return).
JUDGE_ATTACKS = [
    ("display_score", """\
from IPython.display import display
_real_{name} = {name}
def {name}(*args, **kwargs):
    get_ipython().displayhook(99)          # an execute_result nbgrader would read as a score
    display({{"text/plain": "99"}}, raw=True)
    return _real_{name}(*args, **kwargs)""", "displays a number while the test runs"),
    ("trace_rewrite", """\
import sys
def _tracer(frame, event, arg):
    if event == "return" and frame.f_code.co_name in ("close", "equal", "_fail"):
        frame.f_locals.clear()
    return _tracer
sys.settrace(_tracer)
import threading
threading.settrace(_tracer)""", "a trace function aimed at the checks"),
    ("post_run_event", """\
def _pass_everything(result):
    result.error_in_exec = None
get_ipython().events.register("post_run_cell", _pass_everything)""", "an IPython post-run hook"),
    ("execute_handler", """\
_kernel = get_ipython().kernel
_real_handler = _kernel.shell_handlers["execute_request"]
async def _forged(stream, ident, parent):
    parent["content"]["user_expressions"] = {{}}
    parent["content"]["code"] = "print('all visible tests passed')"
    return await _real_handler(stream, ident, parent)
_kernel.shell_handlers["execute_request"] = _forged""", "replaces the kernel's execute handler"),
    ("tensor_subclass", """\
_real_{name} = {name}
class _Liar(torch.Tensor):
    def __eq__(self, other): return torch.ones_like(torch.as_tensor(other), dtype=torch.bool)
    def __sub__(self, other): return torch.zeros_like(torch.as_tensor(other))
    def allclose(self, *a, **k): return True
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        return super().__torch_function__(func, types, args, kwargs or {{}})
def {name}(*args, **kwargs):
    return _real_{name}(*args, **kwargs).as_subclass(_Liar)""", "returns a Tensor subclass that lies"),
    ("callable_patch", """\
class _Yes:
    def __call__(self, *a, **k): return True
torch.allclose = _Yes()
torch.equal = _Yes()
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)""",
     "replaces torch functions with callable objects"),
]

# A correct first answer swapped for a way around writing it: that exercise earns 0.
THIEVES = [
    ("reference_thief", """\
import helpers._guard as _g
_g._forbidden_kernels.set(frozenset())
def {name}(X, K):
    import helpers
    return helpers.{name}(X, K)""", "switches the tripwire off and calls the reference"),
    ("reference_source", """\
import helpers, os
_src = open(os.path.join(os.path.dirname(helpers.__file__), "conv.py")).read()
_ns = {{}}
exec(_src.replace("@reference", ""), _ns)
{name} = _ns.get("{name}")""", "reads the reference's source and runs it"),
    ("scipy_correlate", """\
import scipy.signal
def {name}(X, K):
    return torch.as_tensor(scipy.signal.correlate2d(X.numpy(), K.numpy(), mode="valid"))""",
     "SciPy's correlate2d instead of the exercise"),
]

# Correct answers plus an attempt on the host or on other students: full marks, and the
# test checks that nothing reached them.
NEIGHBOURS = [
    ("snoop", """\
import glob, os
_seen = []
for _path in ["/etc/shadow", "/proc/1/environ", *glob.glob("/proc/*/environ")]:
    try:
        _seen.append(open(_path, "rb").read()[:2000])
    except OSError:
        pass
_seen.append(sorted(glob.glob("/tmp/ag-*/*/*")))
_seen.append(sorted(os.listdir("/proc")))
print("SNOOPED", _seen)
import socket
try:
    socket.create_connection(("127.0.0.1", 22), timeout=1)
    print("SNOOPED network reached")
except OSError as exc:
    print("no network:", exc)""", "reads other processes' environments, system files, sockets"),
    ("daemon", """\
import subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time\\nwhile True: time.sleep(0.2)  # AUTOGRADE_DAEMON_MARK"],
                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)""",
     "a daemon detached with setsid, meant to outlive grading"),
    ("script_injection", """\
from IPython.display import HTML, Javascript, display
display(HTML("<script>window.AG_PWNED = 1</script><img src=x onerror='window.AG_PWNED=2'>"))
display(Javascript("window.AG_PWNED = 3"))
print("<script>window.AG_PWNED = 4</script>")""", "script in outputs, for the instructor's browser"),
    ("display_flood", """\
from IPython.display import display, update_display
display("start", display_id="flood")
for _ in range(40):
    update_display({"text/plain": "y" * 2**21}, raw=True, display_id="flood")""",
     "display updates past the output caps"),
]

FAKE_SANDBOX_MESSAGE = """\
import os, sys
sys.stderr.write("autograde.sandbox: FAKE-GRADER-MESSAGE HIDDEN_FIXTURE_LINE\\n")
sys.stderr.flush()
os._exit(3)"""
