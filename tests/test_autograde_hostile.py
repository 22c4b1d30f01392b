"""The grading engine against hostile submissions, end to end (real kernels, real gradebook).

Each case in tests/hostile/fixtures.py has an expected outcome (status, automatic
points, a phrase of the reason). Two reference students are graded first; after
the hostile batch their grades and files must be exactly as before.
"""
import html
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import nbformat
import pytest

from autograde import sandbox
from autograde.backends import DaskBackend, LocalBackend
from autograde.batch import run_batch
from autograde.config import limits_from_config
from autograde.feedback import hidden_lines, write_feedback
from autograde.layout import Course
from autograde.report import grade_rows
from hostile.fixtures import build_cases, filled, solutions
from hostile.harness import (
    TEST_LIMITS, auto_score, copy_course, release_nb, released_course, source_nb, student_snapshot,
    submit,
)

pytestmark = [pytest.mark.grading, pytest.mark.xdist_group("autograde")]

CHAPTER = "ch_fixture"
# A plausible mistake: the kernel flipped (convolution instead of cross-correlation).
WRONG = {"corr2d": '''\
def corr2d(X, K):
    """Valid 2-D cross-correlation. X: (H, W), K: (kh, kw) -> (H-kh+1, W-kw+1)."""
    K = K.flip(0, 1)
    kh, kw = K.shape
    Y = torch.zeros(X.shape[0] - kh + 1, X.shape[1] - kw + 1)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + kh, j:j + kw] * K).sum()
    return Y
'''}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return released_course(tmp_path_factory.mktemp("template"))


def _course(template, tmp_path, extra_config=""):
    root = copy_course(template, tmp_path / "course")
    if extra_config:
        with open(root / "nbgrader_config.py", "a") as f:
            f.write("\n" + extra_config + "\n")
    course = Course(root)
    return root, course, limits_from_config(course.config, **TEST_LIMITS)


def _grade(course, limits, backend=None, **kw):
    backend = backend or LocalBackend(2)
    try:
        return run_batch(course, [CHAPTER], limits, backend, progress=False, **kw)
    finally:
        backend.close()


def _cases(root, **kw):
    other = filled(release_nb(root, "ch_other"), solutions(source_nb(root, "ch_other")))
    return build_cases(source_nb(root, CHAPTER), release_nb(root, CHAPTER), wrong=WRONG,
                       other_nb=other, **kw)


def _outcome_table(cases, results):
    lines = [f"{'case':24} {'expected':22} {'got':22} reason"]
    bad = []
    for name, case in cases.items():
        r = results.get(name)
        exp = f"{case.expect.status} {case.expect.auto_score if case.expect.auto_score is not None else ''}"
        got = f"{r.status} {r.auto_score if r.status == 'graded' else ''}" if r else "MISSING"
        ok = bool(r) and r.status == case.expect.status and (
            case.expect.auto_score is None or r.auto_score == pytest.approx(case.expect.auto_score)) \
            and case.expect.reason.lower() in (r.reason or "").lower()
        if not ok:
            bad.append(name)
        lines.append(f"{'  ' if ok else '! '}{name:22} {exp:22} {got:22} {(r.reason if r else '')[:90]}")
    return "\n".join(lines), bad


def test_hostile_submissions(template, tmp_path):
    root, course, limits = _course(template, tmp_path)
    cases = _cases(root)
    submit(root, "ref_correct", CHAPTER, cases["correct"].data)
    submit(root, "ref_wrong", CHAPTER, cases["wrong"].data)
    first = _grade(course, limits)
    assert {r.student: r.status for r in first.results} == {"ref_correct": "graded", "ref_wrong": "graded"}
    before = student_snapshot(root, ["ref_correct", "ref_wrong"])

    forbidden = [root / "pwned.txt", root / "submitted" / "ref_correct" / CHAPTER / "pwned.ipynb",
                 root / "autograded" / "ref_correct" / "pwned.txt",
                 Path("/tmp") / f"ag-pwned-{uuid.uuid4().hex}"]
    cases = _cases(root, forbidden_paths=forbidden,
                   secret_path=root / "source" / CHAPTER / f"{CHAPTER}.ipynb")
    if sandbox.landlock_abi() < 1:
        del cases["file_writes"]      # nothing stops the writes without Landlock
    if sandbox.landlock_abi() < 6:
        del cases["kill_grader"]      # signal scoping needs Landlock ABI 6
    for name, case in cases.items():
        submit(root, name, CHAPTER, case.data)
    # An honest classmate graded in the same batch as the attacks.
    submit(root, "ref_parallel", CHAPTER, cases["correct"].data)
    os.environ["AG_GRADER_SECRET"] = secret = f"grader-secret-{uuid.uuid4().hex}"
    try:
        report = _grade(course, limits)
    finally:
        del os.environ["AG_GRADER_SECRET"]
    results = {r.student: r for r in report.results}
    table, bad = _outcome_table(cases, results)
    print("\n" + table)
    assert not bad, f"unexpected outcomes for {bad}:\n{table}"
    assert results["ref_parallel"].auto_score == cases["correct"].expect.auto_score
    assert sorted(report.skipped) == [("ref_correct", CHAPTER), ("ref_wrong", CHAPTER)]

    # No other student's grade or file changed; nothing was written outside.
    assert student_snapshot(root, ["ref_correct", "ref_wrong"]) == before
    assert [p for p in forbidden if p.exists()] == []
    # The gradebook agrees with the results.
    for name, case in cases.items():
        if case.expect.status == "graded":
            assert auto_score(root, name, CHAPTER) == pytest.approx(case.expect.auto_score)
    # 100 MB printed, a few hundred KB kept; 80 MB of display updates, the same.
    for name in ("big_output", "display_flood"):
        graded = root / "autograded" / name / CHAPTER / f"{CHAPTER}.ipynb"
        assert graded.stat().st_size < 1_000_000, name
    # Nothing of the host or of a classmate reached a kernel.
    snoop = _outputs(root / "autograded" / "snoop" / CHAPTER / f"{CHAPTER}.ipynb")
    assert "SNOOPED" in snoop and secret not in snoop and "root:$" not in snoop and "root:*" not in snoop
    assert "network reached" not in snoop and "ref_parallel" not in snoop and "no network" in snoop
    parallel = _outputs(root / "autograded" / "ref_parallel" / CHAPTER / f"{CHAPTER}.ipynb")
    assert "SNOOPED" not in parallel and "AG_PWNED" not in parallel
    assert _processes_mentioning("AUTOGRADE_DAEMON_MARK") == []
    # A line the kernel wrote is never taken for the grader's own message.
    assert "FAKE-GRADER-MESSAGE" not in results["fake_sandbox_message"].reason

    # Feedback: the reason or the failing check, never a line of hidden test code.
    write_feedback(course, [CHAPTER], progress=False)
    hidden = hidden_lines(source_nb(root, CHAPTER))
    assert any("HIDDEN_FIXTURE_LINE" in line for line in hidden)
    for page in (root / "feedback").rglob("*.html"):
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in hidden if line in text] + (
            ["HIDDEN_FIXTURE_LINE"] if "HIDDEN_FIXTURE_LINE" in text else [])
        assert not leaked, f"{page} shows hidden test code: {leaked[:2]}"
    # No script of a student's survives into the instructor's pages.
    for where in ("feedback", "autograded"):
        folder = root / where / "script_injection" / CHAPTER
        for page in [*folder.glob("*.html"), *folder.glob("*.ipynb")]:
            text = _rendered_markup(page) if page.suffix == ".ipynb" else page.read_text()
            live = re.findall(r"<script[^>]*>[^<]*AG_PWNED|<[a-z]+[^<>]*\sonerror\s*=|<iframe", text)
            live += [m for m in re.findall(r'"application/javascript"[^}]*AG_PWNED', text)]
            assert not live, f"{page}: live script {live[:2]}"
    wrong_page = (root / "feedback" / "wrong" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "CheckFailure" in wrong_page and "flipped" in wrong_page
    corrupt_page = (root / "feedback" / "corrupt_json" / CHAPTER / f"{CHAPTER}.html").read_text()
    assert "not a valid notebook" in corrupt_page

    # Export: errors are errors with a reason, never a 0.
    rows = {(r["student"], r["chapter"]): r for r in grade_rows(course, [CHAPTER])}
    for name, case in cases.items():
        row = rows[(name, CHAPTER)]
        assert row["status"] == case.expect.status
        if case.expect.status != "graded":
            assert row["score"] == "" and row["reason"]

    # Running again changes nothing: everything is skipped.
    snapshot = student_snapshot(root, list(cases))
    again = _grade(course, limits)
    references = ["ref_correct", "ref_parallel", "ref_wrong"]
    assert again.results == [] and sorted(again.skipped) == sorted(
        (name, CHAPTER) for name in [*cases, *references])
    assert student_snapshot(root, list(cases)) == snapshot
    # --force grades again, with the same scores.
    forced = _grade(course, limits, force=True, students=["correct", "wrong", "corrupt_json"])
    assert {r.student: (r.status, r.auto_score if r.status == "graded" else None)
            for r in forced.results} == {"correct": ("graded", 5.0), "wrong": ("graded", 2.0),
                                         "corrupt_json": ("error", None)}


def test_dask_backend_grades_the_same(template, tmp_path):
    from distributed import Client, LocalCluster

    root, course, limits = _course(template, tmp_path)
    cases = _cases(root)
    chosen = ["correct", "blank", "wrong", "corrupt_json"]
    for name in chosen:
        submit(root, name, CHAPTER, cases[name].data)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        report = _grade(course, limits, backend=DaskBackend(client=client))
    got = {r.student: (r.status, r.auto_score if r.status == "graded" else None) for r in report.results}
    assert got == {name: (cases[name].expect.status, cases[name].expect.auto_score) for name in chosen}
    assert auto_score(root, "correct", CHAPTER) == 5.0


def _status_rows(root):
    path = root / "autograded" / "autograde-status.sqlite"
    if not path.exists():
        return []
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return db.execute("SELECT student, status, auto_score FROM status").fetchall()
    except sqlite3.OperationalError:
        return []


def _outputs(path):
    """Every output of a stored notebook, as text (not its sources)."""
    nb = nbformat.read(path, as_version=4)
    return "\n".join(json.dumps(o) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _rendered_markup(path):
    """What Jupyter renders as markup from a stored notebook: markdown sources and rich
    outputs. Code sources and printed text are shown escaped, so they are left out."""
    nb = nbformat.read(path, as_version=4)
    parts = [c.source for c in nb.cells if c.cell_type == "markdown"]
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            parts += [json.dumps({kind: data[kind]}) for kind in data if kind != "text/plain"]
    return "\n".join(parts)


def _processes_mentioning(text):
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if text in (proc / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(proc.name))
            except OSError:
                pass
    return found


def test_interrupted_batch_keeps_grades_and_resumes(template, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    root, course, limits = _course(template, tmp_path,
                                   f"c.AutogradeEngine.work_dir = {str(scratch)!r}")
    slow = filled(release_nb(root, CHAPTER), solutions(source_nb(root, CHAPTER)))
    slow.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(3)"))
    students = [f"s{i}" for i in range(6)]
    for student in students:
        submit(root, student, CHAPTER, slow)
    cmd = [sys.executable, "-m", "autograde", "-q", "grade", CHAPTER, "--workers", "2",
           *[f"--{k.replace('_', '-')}={v}" for k, v in TEST_LIMITS.items()]]
    proc = subprocess.Popen(cmd, cwd=root, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": os.environ.get(
                                "PYTHONPATH", str(Path(__file__).resolve().parents[1]))})
    deadline = time.monotonic() + 120
    while len(_status_rows(root)) < 1 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert proc.poll() is None, proc.communicate()
    os.killpg(proc.pid, signal.SIGINT)          # Ctrl-C in the instructor's terminal
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    kept = _status_rows(root)
    assert 1 <= len(kept) < len(students)
    assert all(status == "graded" and score == 5.0 for _, status, score in kept)
    time.sleep(1)
    assert _processes_mentioning(str(scratch)) == [], "kernels left running after Ctrl-C"
    assert list(scratch.iterdir()) == [] or all(not p.exists() for p in scratch.iterdir())

    report = _grade(course, limits)
    assert len(report.skipped) == len(kept)
    assert len(report.results) + len(kept) == len(students)
    assert all(auto_score(root, s, CHAPTER) == 5.0 for s in students)


def test_cli_run_from_a_canvas_zip(template, tmp_path):
    import zipfile

    root, course, limits = _course(template, tmp_path)
    cases = _cases(root)
    download = tmp_path / "submissions.zip"
    with zipfile.ZipFile(download, "w") as z:
        z.writestr("doejane_1001_2001_ch_fixture.ipynb", cases["correct"].data)
        z.writestr("roeric_LATE_1002_2002_ch_fixture-1.ipynb", cases["wrong"].data)
        z.writestr("smithal_1003_2003_notebook.ipynb", cases["corrupt_json"].data)
    limits_flags = [f"--{k.replace('_', '-')}={v}" for k, v in TEST_LIMITS.items()]
    proc = subprocess.run([sys.executable, "-m", "autograde", "run", str(download),
                           "--chapter", CHAPTER, "-o", "grades.csv", *limits_flags],
                          cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "imported 3 notebook(s) for 3 student(s)" in proc.stdout
    assert "graded    errors    timeouts" in proc.stdout
    assert "grading" in proc.stderr       # the progress bar
    csv_text = (root / "grades.csv").read_text().splitlines()
    assert csv_text[0] == "student,chapter,score,max_score,status,reason"
    rows = {line.split(",")[0]: line for line in csv_text[1:] if ",ch_fixture," in line}
    assert rows["doejane_1001"].startswith("doejane_1001,ch_fixture,5,6,graded")
    assert rows["roeric_1002"].startswith("roeric_1002,ch_fixture,2,6,graded")
    assert rows["smithal_1003"].startswith("smithal_1003,ch_fixture,,6,error,")
    for student in ("doejane_1001", "roeric_1002", "smithal_1003"):
        assert (root / "feedback" / student / CHAPTER / f"{CHAPTER}.html").exists()


def test_bench_runs_and_scores_match_nbgrader():
    from autograde import bench

    lines = []
    figures = bench.run("ch_fixture", submissions=4, workers=2, out=lines.append)
    assert figures["identical_scores"], figures.get("score_differences")
    assert figures["statuses"] == {"graded": 4}
    assert "speedup" in lines[-1] and figures["mean_execute_s"] > 0
