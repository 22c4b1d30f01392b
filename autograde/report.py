"""Grades out: the CSV an LMS imports, and the summary printed after a batch.

CSV columns: student, chapter, score, max_score, status, reason.
- status graded: score is the gradebook's (automatic + manual - late penalty);
  reason says what to look at (cells interrupted, points still to grade by hand).
- status error / timeout: score is empty, never 0; reason says why.
- status missing: the student is in the gradebook but submitted nothing.
"""
import csv
import io
import statistics

from autograde.execute import ERROR, GRADED, TIMEOUT
from autograde.gradebook import GradebookWriter

COLUMNS = ["student", "chapter", "score", "max_score", "status", "reason"]


def grade_rows(course, chapters, students=None):
    """One row per (student, chapter): every status row, plus known students who submitted nothing."""
    rows = []
    with GradebookWriter(course, lock=False) as writer:
        status = {(r["student"], r["chapter"]): r for r in writer.status.all(chapters)}
        known = {s.id for s in writer.gb.students} | {s for s, _ in status}
        for chapter in chapters:
            max_score = _max_score(writer, chapter)
            for student in sorted(known):
                if students and student not in students:
                    continue
                row = status.get((student, chapter))
                if row is None:
                    rows.append(_row(student, chapter, "", max_score, "missing", "no submission"))
                    continue
                if row["status"] != GRADED:
                    rows.append(_row(student, chapter, "", max_score, row["status"], row["reason"]))
                    continue
                found = writer.score(student, chapter)
                score, max_score_gb, needs_manual = found if found else (row["auto_score"], max_score, False)
                reason = row["reason"] or ""
                if needs_manual:
                    reason = "; ".join(filter(None, [reason, "some points still to grade by hand "
                                                             "(formgrader)"]))
                rows.append(_row(student, chapter, score, max_score_gb, GRADED, reason))
    return rows


def _max_score(writer, chapter):
    try:
        return writer.gb.find_assignment(chapter).max_score
    except Exception:  # noqa: BLE001 - a chapter not in the gradebook
        return ""


def _row(student, chapter, score, max_score, status, reason):
    return {"student": student, "chapter": chapter, "score": _num(score),
            "max_score": _num(max_score), "status": status, "reason": reason or ""}


def _num(x):
    if x == "" or x is None:
        return ""
    x = float(x)
    return str(int(x)) if x == int(x) else f"{x:g}"


def write_csv(rows, path):
    """Write rows to `path` ('-' for stdout)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if str(path) == "-":
        print(buffer.getvalue(), end="")
    else:
        with open(path, "w", newline="") as f:
            f.write(buffer.getvalue())


def summary(results, skipped=(), wall_s=None, workers=None):
    """The table printed after a batch: counts, mean score, time, and the errors with reasons."""
    graded = [r for r in results if r.status == GRADED]
    errors = [r for r in results if r.status == ERROR]
    timeouts = [r for r in results if r.status == TIMEOUT]
    lines = ["", "  graded    errors    timeouts   skipped   mean score",
             f"  {len(graded):<9} {len(errors):<9} {len(timeouts):<10} {len(skipped):<9} "
             f"{_mean(graded)}"]
    if wall_s is not None and results:
        per = sum(r.timings.get("total", 0) for r in results) / len(results)
        lines.append(f"  {len(results)} notebook{'s' if len(results) != 1 else ''} in {wall_s:.1f} s"
                     + (f" with {workers} workers" if workers else "")
                     + f" ({per:.1f} s each on average)")
    problems = sorted(errors + timeouts, key=lambda r: (r.chapter, r.student))
    if problems:
        lines += ["", "  not graded (status: reason):"]
        lines += [f"    {r.student}/{r.chapter}  {r.status}: {r.reason}" for r in problems[:50]]
        if len(problems) > 50:
            lines.append(f"    ... and {len(problems) - 50} more (see the CSV export)")
    review = [r for r in graded if "review:" in (r.reason or "")]
    if review:
        lines += ["", "  graded, worth a look:"]
        lines += [f"    {r.student}/{r.chapter}  {r.reason}" for r in review[:20]]
    return "\n".join(lines)


def _mean(graded):
    if not graded:
        return "-"
    scores = [r.auto_score / r.max_score for r in graded if r.max_score]
    if not scores:
        return "-"
    mean_points = statistics.mean(r.auto_score for r in graded)
    return f"{mean_points:.2f} points ({100 * statistics.mean(scores):.0f}% of the points)"
