"""python -m autograde bench: this engine with N workers against plain serial `nbgrader autograde`.

Both grade the same N submissions of one chapter in two scratch copies of a
course (a mix of correct, wrong and blank notebooks built from the chapter's
source notebook and tests/wrong_answers/<chapter>.py), each run as a fresh
command, timed from start to end. The scores must be identical. The per-
submission figures come from this engine's status table:

  kernel start   launching the sandboxed kernel until it answers
  execution      running the notebook's cells in the kernel
  overhead       everything else per submission: reading, sanitizing, tidying,
                 the parent's gradebook write (kernel start counted separately)

Chapter: --chapter, else 01_convolution when its source notebook exists in
this repository, else the test fixture chapter (tests/hostile/course).
"""
import importlib.util
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parent.parent
FIXTURE_SOURCE = REPO / "tests" / "hostile" / "course" / "source"
SOLUTION = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", re.M)


def pick_chapter(name=None):
    """(chapter, its source folder)."""
    if name:
        for base in (REPO / "source", FIXTURE_SOURCE):
            if (base / name / f"{name}.ipynb").exists():
                return name, base / name
        raise ValueError(f"--chapter {name}: no source/{name}/{name}.ipynb in the repository "
                         f"or the test fixture")
    if (REPO / "source" / "01_convolution" / "01_convolution.ipynb").exists():
        return "01_convolution", REPO / "source" / "01_convolution"
    return "ch_fixture", FIXTURE_SOURCE / "ch_fixture"


def make_course(dest, chapter, source_dir):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograde.config import load_config

    dest.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    shutil.copytree(source_dir, dest / "source" / chapter)
    config = load_config(dest)
    config.CourseDirectory.root = str(dest)
    result = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config) \
        .generate_assignment(chapter, force=True)
    if not result["success"]:
        raise RuntimeError(f"generate_assignment {chapter} failed: {result.get('error')}")


def variants(course_root, chapter):
    """[(label, notebook)]: correct, each wrong answer, blank."""
    source = nbformat.read(course_root / "source" / chapter / f"{chapter}.ipynb", as_version=4)
    release = nbformat.read(course_root / "release" / chapter / f"{chapter}.ipynb", as_version=4)
    solutions = {c.metadata.nbgrader["grade_id"]: SOLUTION.sub("", c.source)
                 for c in source.cells
                 if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}

    def filled(answers):
        nb = nbformat.from_dict(json.loads(nbformat.writes(release)))
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in answers:
                cell.source = answers[gid]
        return nb

    out = [("correct", filled(solutions))]
    wrong_file = REPO / "tests" / "wrong_answers" / f"{chapter}.py"
    if wrong_file.exists():
        spec = importlib.util.spec_from_file_location("wrong_answers", wrong_file)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for i, wrong in enumerate(module.WRONG_ANSWERS):
            out.append((f"wrong{i}", filled({**solutions, **wrong["cells"]})))
    out.append(("blank", release))
    return out


def submit_all(roots, chapter, kinds, n):
    students = []
    for i in range(n):
        label, nb = kinds[i % len(kinds)]
        student = f"s{i:03d}_{label}"
        students.append(student)
        for root in roots:
            folder = root / "submitted" / student / chapter
            folder.mkdir(parents=True)
            nbformat.write(nb, folder / f"{chapter}.ipynb")
    return students


def timed(cmd, cwd):
    started = time.monotonic()
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return time.monotonic() - started, proc


def auto_scores(root, chapter, students):
    from nbgrader.api import Gradebook, MissingEntry

    scores = {}
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", "cnn-course") as gb:
        for student in students:
            try:
                nb = gb.find_submission_notebook(chapter, chapter, student)
                scores[student] = sum(g.auto_score or 0 for g in nb.grades)
            except MissingEntry:
                scores[student] = None
    return scores


def run(chapter=None, submissions=40, workers=2, skip_nbgrader=False, out=print):
    chapter, source_dir = pick_chapter(chapter)
    figures = {"chapter": chapter, "submissions": submissions, "workers": workers}
    with tempfile.TemporaryDirectory(prefix="ag-bench-") as tmp:
        tmp = Path(tmp)
        ours, theirs = tmp / "engine", tmp / "nbgrader"
        out(f"bench: chapter {chapter}, {submissions} submissions; preparing two scratch courses")
        make_course(ours, chapter, source_dir)
        shutil.copytree(ours, theirs)
        students = submit_all([ours, theirs], chapter, variants(ours, chapter), submissions)

        out(f"bench: python -m autograde grade --workers {workers} ...")
        wall, proc = timed([sys.executable, "-m", "autograde", "-q", "grade", chapter,
                            "--workers", str(workers)], ours)
        if proc.returncode != 0:
            raise RuntimeError(f"autograde failed:\n{proc.stdout}\n{proc.stderr[-3000:]}")
        figures["engine_wall_s"] = round(wall, 1)
        figures.update(_per_submission(ours))
        mine = auto_scores(ours, chapter, students)
        if not skip_nbgrader:
            out("bench: nbgrader autograde (serial) ...")
            wall, proc = timed([sys.executable, "-m", "nbgrader", "autograde", chapter, "--force"],
                               theirs)
            figures["nbgrader_wall_s"] = round(wall, 1)
            figures["speedup"] = round(figures["nbgrader_wall_s"] / figures["engine_wall_s"], 2)
            reference = auto_scores(theirs, chapter, students)
            differ = {s: (mine[s], reference[s]) for s in students if mine[s] != reference[s]}
            figures["identical_scores"] = not differ
            if differ:
                figures["score_differences"] = differ
    out(report(figures))
    return figures


def _per_submission(root):
    db = sqlite3.connect(root / "autograded" / "autograde-status.sqlite")
    rows = db.execute("SELECT status, total_s, execute_s, kernel_start_s, write_s FROM status").fetchall()
    db.close()
    totals = [r[1] for r in rows]
    execs = [r[2] for r in rows]
    starts = [r[3] for r in rows]
    writes = [r[4] or 0 for r in rows]
    overhead = [t + w - e - k for t, e, k, w in zip(totals, execs, starts, writes)]
    return {
        "statuses": {s: sum(r[0] == s for r in rows) for s in {r[0] for r in rows}},
        "mean_total_s": round(statistics.mean(totals), 2),
        "mean_execute_s": round(statistics.mean(execs), 2),
        "mean_kernel_start_s": round(statistics.mean(starts), 2),
        "mean_parent_write_s": round(statistics.mean(writes), 3),
        "mean_overhead_s": round(statistics.mean(overhead), 2),
        "max_overhead_s": round(max(overhead), 2),
    }


def report(f):
    lines = [
        "",
        f"  chapter {f['chapter']}: {f['submissions']} submissions",
        f"  this engine, {f['workers']} workers   {f['engine_wall_s']:>7.1f} s wall",
    ]
    if "nbgrader_wall_s" in f:
        lines += [
            f"  nbgrader autograde, serial    {f['nbgrader_wall_s']:>7.1f} s wall",
            f"  speedup                       {f['speedup']:>7.2f} x   (target >= 1.7)",
            f"  identical scores              {'yes' if f['identical_scores'] else 'NO'}",
        ]
    lines += [
        "  per submission (this engine, means):",
        f"    total in worker + write     {f['mean_total_s'] + f['mean_parent_write_s']:>7.2f} s",
        f"    executing cells in kernel   {f['mean_execute_s']:>7.2f} s",
        f"    starting the kernel         {f['mean_kernel_start_s']:>7.2f} s",
        f"    overhead beyond both        {f['mean_overhead_s']:>7.2f} s   (max "
        f"{f['max_overhead_s']:.2f} s; parent write {f['mean_parent_write_s']:.3f} s)",
    ]
    return "\n".join(lines)


def main(args):
    figures = run(args.chapter, args.submissions, args.workers, args.skip_nbgrader)
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    ok = figures.get("identical_scores", True)
    return 0 if ok else 1
