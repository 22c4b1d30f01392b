"""python -m autograde: grade a whole class, in parallel, under limits, with honest results."""
import argparse
import sys
import textwrap
from pathlib import Path

DESCRIPTION = """\
Grade a class's notebooks with nbgrader, several at a time, each student's code
in a confined kernel (time, memory, output and file-system limits). Run it from
the course root (the folder with nbgrader_config.py) or pass --course-root.

A typical week:
  python -m autograde import ~/Downloads/submissions.zip --chapter 01_convolution
  python -m autograde grade 01_convolution          # parallel, progress bar, summary
  python -m autograde feedback 01_convolution       # feedback/<student>/01_convolution/*.html
  python -m autograde export -o grades.csv          # student,chapter,score,max_score,status,reason
or all four at once:
  python -m autograde run ~/Downloads/submissions.zip --chapter 01_convolution -o grades.csv

A submission that cannot be graded (corrupt notebook, wrong chapter, kernel
crash, time limit) gets status 'error' or 'timeout' and a reason, never a
silent 0. Grades go into nbgrader's gradebook (formgrader shows them); running
a command again only does what is not done yet (--force redoes everything).
Limits and the number of workers can be set in nbgrader_config.py
(c.AutogradeLimits..., c.AutogradeEngine...); flags override them.
See docs/instructor-guide.md for the whole term.
"""

IMPORT_HELP = """\
Copy submissions into submitted/<student>/<chapter>/<chapter>.ipynb.

SRC is a folder or a .zip holding, for example (-> student id):
  alice/01_convolution/01_convolution.ipynb        nbgrader layout (+ timestamp.txt) -> alice
  alice/whatever.ipynb  or  alice/work.zip          a folder per student -> alice
  Jane Doe_123456_assignsubmission_file_/x.ipynb    Moodle -> jane_doe_123456
  doejane_12345_67890_01_convolution.ipynb          Canvas -> doejane_12345, also
                                                   _LATE_ and -1/-2 resubmissions
  hw1_doejane_attempt_2025-01-31-10-00-00_x.ipynb   Blackboard -> doejane
  alice.ipynb  or  alice.zip                        a file per student -> alice
With --chapter every notebook is filed under that chapter (use it for one LMS
assignment's download); without, the chapter is recognised from the notebook's
exercises, else from its file name. Newest file wins when a student has several.
The LMS's participant id stays in the student id, so namesakes stay two students;
two different sources that would still become one student are refused (exit
status 2, both named): nothing is imported until one is renamed. Only notebooks
are copied: timestamp.txt is taken from nbgrader's layout alone, never from a
student's zip or an LMS folder, and a bad one is ignored (listed).
"""


def _quiet_arg(p):
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars")


def _chapters_arg(p, help_text):
    p.add_argument("chapters", nargs="*", metavar="CHAPTER",
                   help=help_text + " (names like 01_convolution, or numbers like 01; default: all)")
    p.add_argument("--student", action="append", metavar="ID", dest="students",
                   help="only this student (repeat for several)")
    _quiet_arg(p)


def _grade_args(p):
    g = p.add_argument_group("grading")
    g.add_argument("--workers", type=int, metavar="N",
                   help="notebooks graded at once (default: c.AutogradeEngine.workers, 2)")
    g.add_argument("--backend", choices=["local", "dask"],
                   help="local process pool (default) or a Dask cluster")
    g.add_argument("--scheduler", metavar="ADDRESS",
                   help="Dask scheduler, e.g. tcp://10.0.0.5:8786 (with --backend dask; "
                        "without it a local Dask cluster of --workers processes is started)")
    g.add_argument("--force", action="store_true", help="grade again what was graded already")
    g.add_argument("--retry-errors", action="store_true",
                   help="grade again the submissions that ended in error or timeout")
    lim = p.add_argument_group("limits on student code (defaults from nbgrader_config.py)")
    lim.add_argument("--cell-timeout", type=int, metavar="S", help="seconds per cell (default 60)")
    lim.add_argument("--notebook-timeout", type=int, metavar="S",
                     help="seconds per notebook (default 600)")
    lim.add_argument("--memory-mb", type=int, metavar="MB",
                     help="kernel address space (default 6000; torch needs >= 4000)")
    lim.add_argument("--max-output-kb", type=int, metavar="KB",
                     help="output kept per cell (default 256)")
    lim.add_argument("--no-landlock", action="store_true",
                     help="do not confine the kernel's files/network/signals (not recommended)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m autograde", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--course-root", metavar="PATH",
                        help="the course folder (default: the nearest folder with nbgrader_config.py)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("import", help="copy LMS/zip/folder submissions into submitted/",
                       description=IMPORT_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", metavar="SRC", help="a folder or .zip of submissions")
    p.add_argument("--chapter", help="file every notebook under this chapter")
    p.add_argument("--dry-run", action="store_true", help="show what would be imported")
    _quiet_arg(p)

    p = sub.add_parser("grade", help="autograde submitted/ in parallel, under limits",
                       description="Autograde submissions (submitted/<student>/<chapter>/) in "
                                   "parallel; grades go into the gradebook and autograded/.")
    _chapters_arg(p, "chapters to grade")
    _grade_args(p)

    p = sub.add_parser("feedback", help="write feedback/<student>/<chapter>/*.html",
                       description="Feedback pages: which tests failed and why, never the "
                                   "hidden test code. Ungraded submissions get a page saying why.")
    _chapters_arg(p, "chapters")

    p = sub.add_parser("export", help="write grades as CSV",
                       description="Grades as CSV: student, chapter, score, max_score, status, "
                                   "reason. Errors have an empty score, never 0.")
    _chapters_arg(p, "chapters")
    p.add_argument("-o", "--output", default="grades.csv", metavar="FILE",
                   help="CSV file to write ('-' for the screen; default grades.csv)")

    p = sub.add_parser("run", help="import (if SRC), grade, feedback and export in one go")
    p.add_argument("src", nargs="?", metavar="SRC", help="submissions to import first (optional)")
    p.add_argument("--chapter", help="with SRC: file every notebook under this chapter; "
                                     "also the chapter to grade")
    _chapters_arg(p, "chapters to grade")
    _grade_args(p)
    p.add_argument("-o", "--output", default="grades.csv", metavar="FILE", help="CSV file")

    p = sub.add_parser("status", help="what has been graded, errors and reasons")
    _chapters_arg(p, "chapters")

    p = sub.add_parser("report", help="class report: scores, named mistakes, errors (HTML)",
                       description="One HTML page (plots inline, no script) from what grading "
                                   "stored; nothing is run again. Per exercise: the score "
                                   "histogram, the share with full marks, the most common named "
                                   "mistakes and forbidden calls, other failures by exception; "
                                   "per chapter: errors and timeouts with reasons, the slowest "
                                   "submissions; a student x chapter table.")
    p.add_argument("chapters", nargs="*", metavar="CHAPTER",
                   help="chapters (names like 01_convolution, or numbers like 01; "
                        "default: all with results)")
    p.add_argument("--out", metavar="PATH",
                   help="HTML file to write (default: reports/<chapter, or 'class'>.html in "
                        "the course root)")

    p = sub.add_parser("bench", help="time parallel grading against plain `nbgrader autograde`")
    p.add_argument("--chapter", help="chapter to use (default: 01_convolution if released, "
                                     "else the test fixture)")
    p.add_argument("--submissions", type=int, default=40, metavar="N")
    p.add_argument("--workers", type=int, default=2, metavar="N")
    p.add_argument("--skip-nbgrader", action="store_true", help="time only this engine")
    p.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    _quiet_warnings()
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("\nautograde: interrupted", file=sys.stderr)
        return 130
    except (FileNotFoundError, ValueError) as exc:
        print(f"autograde: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from autograde.layout import ChapterNotReleased

        if isinstance(exc, ChapterNotReleased):
            print(f"autograde: {exc}", file=sys.stderr)
            return 2
        raise


def _quiet_warnings():
    """nbgrader's own SQLAlchemy and checksum chatter is not for the instructor's screen."""
    import logging
    import warnings

    try:
        from sqlalchemy.exc import SAWarning
        warnings.filterwarnings("ignore", category=SAWarning)
    except ImportError:  # pragma: no cover
        pass
    logging.getLogger("traitlets").setLevel(logging.ERROR)


def _course(args):
    from autograde.config import find_course_root
    from autograde.layout import Course

    root = Path(args.course_root) if args.course_root else find_course_root()
    if not (root / "nbgrader_config.py").exists():
        raise FileNotFoundError(f"--course-root {root}: no nbgrader_config.py there")
    return Course(root)


def _resolve_chapters(course, names, default_all=True):
    known = sorted(set(course.gradebook_chapters()) | set(course.source_chapters()))
    if not names:
        return [c for c in known if c in course.gradebook_chapters()] if default_all else known
    chosen = []
    for name in names:
        matches = [c for c in known if c == name or c.split("_")[0] == name]
        if not matches:
            raise ValueError(f"CHAPTER {name!r}: not a chapter of this course "
                             f"(known: {', '.join(known) or 'none'})")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _limits(course, args):
    from autograde.config import limits_from_config

    overrides = dict(cell_timeout=args.cell_timeout, notebook_timeout=args.notebook_timeout,
                     memory_mb=args.memory_mb, max_output_kb=args.max_output_kb)
    if args.no_landlock:
        overrides["landlock"] = False
    names = {"cell_timeout": "--cell-timeout", "notebook_timeout": "--notebook-timeout",
             "memory_mb": "--memory-mb", "max_output_kb": "--max-output-kb"}
    try:
        return limits_from_config(course.config, **overrides)
    except ValueError as exc:
        name = str(exc).split(" ")[0].split("=")[0]
        raise ValueError(f"{names.get(name, name)}: {exc}") from None


def _grade(course, args, chapters):
    from autograde.backends import make_backend
    from autograde.batch import run_batch
    from autograde.report import summary

    limits = _limits(course, args)
    engine = course.engine
    workers = args.workers if args.workers is not None else engine.workers
    backend_name = args.backend or engine.backend
    scheduler = args.scheduler if args.scheduler is not None else engine.scheduler
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if not chapters:
        raise ValueError("no chapter to grade: none is in the gradebook yet "
                         "(run `python -m course release` first)")
    if limits.landlock and backend_name == "local":
        from autograde.sandbox import landlock_abi

        if landlock_abi() < 1:
            print("autograde: WARNING Landlock is not available on this machine: student code "
                  "will run without file, network and signal confinement (rlimits only). "
                  "See docs/instructor-guide.md, section 9.", file=sys.stderr)
    backend = make_backend(backend_name, workers, scheduler)
    try:
        report = run_batch(course, chapters, limits, backend, students=args.students,
                           force=args.force, retry_errors=args.retry_errors,
                           progress=not args.quiet)
    finally:
        backend.close()
    sys.stderr.flush()
    print(summary(report.results, report.skipped, report.wall_s, workers))
    if report.skipped and not report.results:
        print(f"\n  nothing new to grade ({len(report.skipped)} done before; --force to redo)")
    elif not report.skipped and not report.results and not report.interrupted:
        print(f"\n  no submissions of {', '.join(chapters)} under {course.path('submitted')} "
              f"(python -m autograde import ... puts them there)")
    if report.interrupted:
        print(f"\ninterrupted: {len(report.results)} result(s) written; run the same command "
              f"again to grade the rest.", file=sys.stderr)
        return 130
    return 0


def _dispatch(args):
    if args.command == "bench":
        from autograde.bench import main as bench_main

        return bench_main(args)
    course = _course(args)
    if args.command == "import":
        from autograde.submissions import import_submissions

        report = import_submissions(course, args.src, args.chapter, args.dry_run)
        print(("(dry run) " if args.dry_run else "") + report.text())
        return 0 if report.imported else 1
    if args.command == "grade":
        return _grade(course, args, _resolve_chapters(course, args.chapters))
    if args.command == "feedback":
        return _feedback(course, _resolve_chapters(course, args.chapters), args.students,
                         progress=not args.quiet)
    if args.command == "export":
        return _export(course, _resolve_chapters(course, args.chapters), args.students, args.output)
    if args.command == "status":
        return _status(course, _resolve_chapters(course, args.chapters), args.students)
    if args.command == "report":
        return _report(course, args.chapters, args.out)
    if args.command == "run":
        from autograde.submissions import import_submissions

        if args.src:
            report = import_submissions(course, args.src, args.chapter)
            print(report.text())
        names = args.chapters or ([args.chapter] if args.chapter else [])
        chapters = _resolve_chapters(course, names)
        code = _grade(course, args, chapters)
        if code == 130:
            return code
        feedback_code = _feedback(course, chapters, args.students, progress=not args.quiet)
        _export(course, chapters, args.students, args.output)
        return code or feedback_code
    raise AssertionError(args.command)


def _feedback(course, chapters, students, progress=True):
    """Feedback pages, one submission at a time: one that fails is listed with the
    student and the reason (exit status 1), and the others are written."""
    from autograde.feedback import write_feedback
    from autograde.gradebook import STATUS_FILE, StatusStore, writer_lock

    writer_lock(course).close()  # another run writing: say so once, not once per student
    store = StatusStore(course.path("autograded") / STATUS_FILE)
    try:
        rows = [(r["student"], r["chapter"]) for r in store.all(chapters)
                if not students or r["student"] in students]
    finally:
        store.close()
    bar = _bar(len(rows), "feedback", "page") if progress else None
    written, failed = 0, []
    for student, chapter in rows:
        try:
            written += write_feedback(course, [chapter], [student], progress=False)
        except Exception as exc:  # noqa: BLE001 - one page that fails must not stop the others
            failed.append(f"{student}/{chapter}: {type(exc).__name__}: {exc}")
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    print(f"wrote feedback for {written} submission(s) under {course.path('feedback')}")
    if failed:
        print(f"autograde: no feedback page for {len(failed)} submission(s):\n  "
              + "\n  ".join(failed), file=sys.stderr)
        return 1
    return 0


def _bar(total, desc, unit):
    if not total:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, desc=desc, file=sys.stderr)


def _grade_rows(course, chapters, students):
    """The export's rows. If reading them fails, they are read one submission at a
    time, and a submission whose grade cannot be read becomes an error row naming it."""
    from autograde.report import grade_rows

    try:
        return grade_rows(course, chapters, students)
    except Exception:  # noqa: BLE001 - find which submission it is, below
        pass
    rows, known = [], _known_students(course, chapters, students)
    for chapter in chapters:
        for student in known:
            try:
                rows += grade_rows(course, [chapter], [student])
            except Exception as exc:  # noqa: BLE001 - this student's row says why
                rows.append({"student": student, "chapter": chapter, "score": "", "max_score": "",
                             "status": "error",
                             "reason": f"{student}/{chapter}: its grade could not be read from "
                                       f"the gradebook: {type(exc).__name__}: {exc}"})
    return rows


def _known_students(course, chapters, students):
    """Students in the gradebook or the status table (as report.grade_rows lists them)."""
    from autograde.gradebook import GradebookWriter

    with GradebookWriter(course, lock=False) as writer:
        known = {s.id for s in writer.gb.students} | {r["student"] for r in writer.status.all(chapters)}
    return sorted(s for s in known if not students or s in students)


def _export(course, chapters, students, output):
    from autograde.report import write_csv

    rows = _grade_rows(course, chapters, students)
    write_csv(rows, output)
    if output != "-":
        counts = {}
        for r in rows:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
        shown = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"wrote {len(rows)} row(s) to {output} ({shown or 'nothing graded yet'})")
    return 0


def _report(course, names, out):
    from autograde.class_report import graded_chapters, write_report

    chapters = _resolve_chapters(course, names) if names else graded_chapters(course)
    path = write_report(course, chapters, out)
    print(f"wrote the class report of {', '.join(chapters)} to {path}")
    return 0


def _status(course, chapters, students):
    from autograde.gradebook import STATUS_FILE, StatusStore

    store = StatusStore(course.path("autograded") / STATUS_FILE)
    rows = [r for r in store.all(chapters) if not students or r["student"] in students]
    store.close()
    if not rows:
        print("nothing graded yet")
        return 0
    for chapter in chapters:
        mine = [r for r in rows if r["chapter"] == chapter]
        if not mine:
            continue
        counts = {s: sum(r["status"] == s for r in mine) for s in ("graded", "error", "timeout")}
        print(f"{chapter}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        for r in mine:
            if r["status"] != "graded":
                print(textwrap.indent(f"{r['student']}: {r['status']}: {r['reason']}", "  "))
    return 0
