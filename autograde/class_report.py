"""python -m autograde report: what the class got right and wrong, from what grading stored.

Nothing is run again. The report reads:
- the status table (autograded/autograde-status.sqlite): status, reason, timings;
- nbgrader's gradebook: each test cell's score, and each student's chapter score
  (the rows of `export`, autograde.report.grade_rows);
- autograded/<student>/<chapter>/<notebook>.ipynb: the judge's message in each
  failed test cell's error output. A *named mistake* is the first line after
  "likely cause: " (helpers.check); a *forbidden call* is the name in "your
  answer called NAME, ..." (helpers._guard) or "your answer uses NAME (...)"
  (the grader's reading of the source); any other failure counts by exception
  type (NameError, NotImplementedError: not attempted).

It writes one self-contained HTML page (plots are inline SVG, no script, no
network): per chapter, per exercise (test cell, in notebook order) the score
histogram, the share with full marks, the named mistakes and forbidden calls
with counts, the other failures; per chapter the errors and timeouts with their
reasons and the slowest submissions; across chapters a student x chapter table.
Every string that comes from a submission is escaped (html.escape), and the
page's Content-Security-Policy allows no script at all.
"""
import collections
import dataclasses
import datetime
import html
import io
import re
from pathlib import Path

import nbformat

from autograde.execute import GRADED
from autograde.feedback import _ANSI
from autograde.gradebook import STATUS_FILE, GradebookWriter, StatusStore
from autograde.judge import is_graded_test
from autograde.report import _num, grade_rows

MARKER = "<!-- autograde class report -->"  # a file without it is never overwritten
TOP_MISTAKES = 10
SLOWEST = 5
NOT_ATTEMPTED = {"NotImplementedError": "not attempted", "NameError": "not attempted or not run"}
_CAUSE = re.compile(r"likely cause(?: of the wrong values)?: *(.*)")
_CALLED = re.compile(r"your answer (?:called|uses) ([\w.]+)")


@dataclasses.dataclass
class Exercise:
    """One test cell of a chapter and what the graded submissions did with it."""

    notebook: str
    grade_id: str
    points: float
    scores: list = dataclasses.field(default_factory=list)  # one per graded submission
    mistakes: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    forbidden: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    other: collections.Counter = dataclasses.field(default_factory=collections.Counter)

    @property
    def full_marks(self):
        return sum(s >= self.points - 1e-9 for s in self.scores)


# ------------------------------------------------------------------ reading


def graded_chapters(course):
    """The chapters that have results in the status table, in the gradebook's order."""
    _require_results(course)
    store = StatusStore(course.path("autograded") / STATUS_FILE)
    try:
        done = {r["chapter"] for r in store.all()}
    finally:
        store.close()
    chapters = [c for c in course.gradebook_chapters() if c in done]
    if not chapters:
        raise ValueError("CHAPTER: no chapter has results yet (run `python -m autograde grade` first)")
    return chapters


def _require_results(course):
    if not course._db_exists():
        raise FileNotFoundError(f"--course-root {course.root}: no gradebook ({course.db_url}); "
                                f"release and grade a chapter first")
    if not (course.path("autograded") / STATUS_FILE).is_file():
        raise FileNotFoundError(f"--course-root {course.root}: nothing graded yet (no "
                                f"{course.path('autograded') / STATUS_FILE})")


def collect(course, chapters):
    """{"chapters": {chapter: {"exercises": [Exercise], "status": [status rows]}},
    "students": the export's rows}."""
    _require_results(course)
    known = course.gradebook_chapters()
    for chapter in chapters:
        if chapter not in known:
            raise ValueError(f"CHAPTER {chapter!r}: not in the gradebook (chapters there: "
                             f"{', '.join(known) or 'none'})")
    data = {"chapters": {}, "students": grade_rows(course, chapters)}
    with GradebookWriter(course, lock=False) as writer:
        for chapter in chapters:
            rows = writer.status.all([chapter])
            graded = {r["student"] for r in rows if r["status"] == GRADED}
            exercises = _exercises(course, chapter)
            _cell_scores(writer.gb, chapter, graded, exercises)
            _read_messages(course, chapter, graded, exercises)
            data["chapters"][chapter] = {"exercises": list(exercises.values()), "status": rows}
    return data


def _exercises(course, chapter):
    """{(notebook, grade_id): Exercise} for the chapter's test cells, in notebook order."""
    found = {}
    for notebook, nb in course.master(chapter)["notebooks"].items():
        for cell in nb["cells"]:
            if cell["grade"] and not cell["solution"] and cell["cell_type"] == "code":
                found[notebook, cell["name"]] = Exercise(notebook, cell["name"], cell["points"] or 0)
    return found


def _cell_scores(gb, chapter, graded, exercises):
    """Each graded submission's score of each test cell (manual score if one was given)."""
    for submission in gb.find_assignment(chapter).submissions:
        if submission.student.id not in graded:
            continue
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                exercise = exercises.get((notebook.name, grade.name))
                if exercise is not None and grade.score is not None:
                    exercise.scores.append(float(grade.score))


def _read_messages(course, chapter, graded, exercises):
    """Count each failed test cell's message: named mistake, forbidden call or exception type."""
    for student in sorted(graded):
        folder = course.path("autograded", student, chapter)
        for notebook in {nb for nb, _ in exercises}:
            try:
                nb = nbformat.read(folder / f"{notebook}.ipynb", as_version=4)
            except Exception:  # noqa: BLE001 - not submitted or unreadable: no message to count
                continue
            for cell in nb.cells:
                exercise = exercises.get((notebook, cell.metadata.get("nbgrader", {}).get("grade_id")))
                error = next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"),
                             None)
                if exercise is None or error is None or not is_graded_test(cell):
                    continue
                kind, key = classify(error)
                getattr(exercise, kind)[key] += 1


def classify(output):
    """("mistakes", cause) | ("forbidden", called name) | ("other", exception type) for an
    error output of a test cell."""
    text = str(output.get("evalue") or "") or "\n".join(map(str, output.get("traceback") or []))
    text = _ANSI.sub("", text)
    cause = _CAUSE.search(text)
    if cause and cause.group(1).strip():
        return "mistakes", cause.group(1).strip()[:300]
    called = _CALLED.search(text)
    if called:
        return "forbidden", called.group(1).rstrip(".")
    ename = str(output.get("ename") or "Error")[:80]
    return "other", ename


# ------------------------------------------------------------------ writing


def write_report(course, chapters, out=None):
    """Write the report of `chapters`; returns its path. Refuses to overwrite any file
    that is not such a report."""
    out = Path(out) if out else course.root / "reports" / (
        f"{chapters[0] if len(chapters) == 1 else 'class'}.html")
    if out.is_dir() or (out.exists() and MARKER not in out.read_text(errors="replace")[:500]):
        raise ValueError(f"--out {out}: exists and is not a class report; not overwritten "
                         f"(choose another path)")
    page = render(collect(course, chapters), chapters)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out


def render(data, chapters):
    """The whole page (every student-derived string escaped)."""
    esc = html.escape
    nav = " · ".join(f'<a href="#{esc(c)}">{esc(c)}</a>' for c in chapters)
    body = [_chapter_section(c, data["chapters"][c], data["students"]) for c in chapters]
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return f"""<!DOCTYPE html>
{MARKER}
<html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>Class report: {esc(', '.join(chapters))}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #222 }}
table {{ border-collapse: collapse; margin: .5em 0 1em }}
th, td {{ border: 1px solid #ccc; padding: .2em .6em; text-align: left; vertical-align: top }}
th {{ background: #f3f3f3 }} .exercise {{ border-top: 1px solid #ddd; padding-top: .5em }}
.plot {{ float: right; margin-left: 1em }} .clear {{ clear: both }}
</style></head><body>
<h1>Class report</h1>
<p>Generated {esc(when)} from the gradebook, the status table and the autograded
notebooks (nothing was run again). Chapters: {nav}</p>
{''.join(body)}
{_students_section(data["students"], chapters)}
</body></html>
"""


def _chapter_section(chapter, data, students):
    esc = html.escape
    rows = data["status"]
    counts = collections.Counter(r["status"] for r in rows)
    scores = [float(r["score"]) for r in students if r["chapter"] == chapter
              and r["status"] == GRADED and r["score"] != ""]
    max_score = next((r["max_score"] for r in students if r["chapter"] == chapter), "")
    mean = f"; mean score {sum(scores) / len(scores):.2f} of {max_score}" if scores else ""
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "nothing graded yet"
    exercises = "".join(_exercise_section(e) for e in data["exercises"])
    return (f'<section id="{esc(chapter)}"><h2>{esc(chapter)}</h2>\n'
            f"<p>{len(rows)} submission(s): {esc(summary)}{esc(mean)}.</p>\n{exercises}"
            f"{_problems_section(rows)}{_slowest_section(rows)}</section>\n")


def _exercise_section(ex):
    """Histogram, full marks, named mistakes, forbidden calls and other failures of one test cell."""
    esc = html.escape
    n = len(ex.scores)
    share = f"{ex.full_marks} of {n} ({100 * ex.full_marks / n:.0f}%)" if n else "no graded submission"
    parts = [f'<div class="exercise"><h3>{esc(ex.grade_id)} <small>({esc(ex.notebook)}, '
             f"{esc(_num(ex.points))} point(s))</small></h3>"]
    if n:
        parts.append(f'<div class="plot">{_histogram(ex.scores, ex.points)}</div>')
    parts.append(f"<p>Full marks: {esc(share)}.</p>")
    if ex.mistakes:
        parts.append(_table(["named mistake (likely cause)", "submissions"],
                            ex.mistakes.most_common(TOP_MISTAKES)))
        if len(ex.mistakes) > TOP_MISTAKES:
            parts.append(f"<p>... and {len(ex.mistakes) - TOP_MISTAKES} other named mistake(s).</p>")
    if ex.forbidden:
        parts.append(_table(["forbidden call", "submissions"], ex.forbidden.most_common()))
    if ex.other:
        parts.append(_table(["other failure (exception)", "submissions"],
                            [(f"{e} ({NOT_ATTEMPTED[e]})" if e in NOT_ATTEMPTED else e, k)
                             for e, k in ex.other.most_common()]))
    parts.append('<div class="clear"></div></div>\n')
    return "".join(parts)


def _problems_section(rows):
    """Errors and timeouts with their reasons."""
    bad = sorted((r for r in rows if r["status"] != GRADED), key=lambda r: (r["status"], r["student"]))
    if not bad:
        return "<h3>Errors and timeouts</h3><p>None.</p>\n"
    return "<h3>Errors and timeouts</h3>" + _table(
        ["student", "status", "reason"], [(r["student"], r["status"], r["reason"]) for r in bad])


def _slowest_section(rows):
    """The slowest submissions, by total time."""
    timed = sorted((r for r in rows if r["total_s"] is not None), key=lambda r: -r["total_s"])
    if not timed:
        return ""
    secs = lambda x: "" if x is None else f"{x:.1f} s"  # noqa: E731
    return f"<h3>Slowest {min(SLOWEST, len(timed))} submission(s)</h3>" + _table(
        ["student", "status", "total", "execute", "kernel start", "write"],
        [(r["student"], r["status"], secs(r["total_s"]), secs(r["execute_s"]),
          secs(r["kernel_start_s"]), secs(r["write_s"])) for r in timed[:SLOWEST]])


def _students_section(students, chapters):
    """Student x chapter: the score (of the maximum) or the status."""
    cells = {(r["student"], r["chapter"]): r for r in students}
    table = []
    for student in sorted({r["student"] for r in students}):
        row = [student]
        for chapter in chapters:
            r = cells.get((student, chapter))
            if r is None:
                row.append("")
            elif r["status"] == GRADED:
                row.append(f"{r['score']} / {r['max_score']}")
            else:
                row.append(r["status"])
        table.append(row)
    return '<section id="students"><h2>Students</h2>' + _table(["student", *chapters], table) + \
        "</section>\n"


def _table(head, rows):
    esc = html.escape
    out = ["<table><tr>", *(f"<th>{esc(str(h))}</th>" for h in head), "</tr>"]
    for row in rows:
        out += ["<tr>", *(f"<td>{esc(str(v))}</td>" for v in row), "</tr>"]
    return "".join(out) + "</table>\n"


def _histogram(scores, points):
    """A bar chart of the scores as inline SVG (numbers only: nothing from a submission)."""
    import matplotlib
    from matplotlib.figure import Figure

    counts = collections.Counter(scores)
    values = sorted(set(counts) | {0.0, float(points)})
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "autograde",
                                "font.size": 8}):
        fig = Figure(figsize=(3, 1.6))
        ax = fig.add_subplot()
        if len(values) <= 12:
            ax.bar([_num(v) for v in values], [counts.get(v, 0) for v in values], color="#4a7ab5")
        else:
            ax.hist(scores, bins=10, range=(0, max(points, max(scores))), color="#4a7ab5")
        ax.set_xlabel("points")
        ax.set_ylabel("submissions")
        ax.yaxis.get_major_locator().set_params(integer=True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", bbox_inches="tight")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]
