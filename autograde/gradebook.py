"""The single writer: results from the workers go into the gradebook and autograded/ here.

Only the parent process imports this module's writer. Each result is written
and committed as it arrives, so a batch stopped halfway keeps every grade
already written, and running the batch again skips what is done.

Writing a result reuses nbgrader's own steps: SaveAutoGrades (auto scores,
keeping any manual score and flagging it for review) and AssignLatePenalties,
on the executed notebook the worker returned.

Beside the gradebook, a small status table (autograded/autograde-status.sqlite)
remembers for each (student, chapter) the status (graded / error / timeout),
the reason, and a hash of what was graded, which nbgrader's schema has no
room for. nbgrader never reads it; `export` and `feedback` do.
"""
import contextlib
import dataclasses
import datetime
import fcntl
import os
import shutil
import signal
import sqlite3
import stat
import threading
import time
import warnings
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import AssignLatePenalties, SaveAutoGrades
from sqlalchemy.exc import SAWarning

from autograde.execute import ERROR, GRADED
from autograde.submissions import TIMESTAMP, read_timestamp

STATUS_FILE = "autograde-status.sqlite"
LOCK_FILE = "autograde.lock"


class StatusStore:
    """(student, chapter) -> status, reason, score, hashes, timings. One writer: the parent."""

    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(self.path)
        self.db.execute("""CREATE TABLE IF NOT EXISTS status (
            student TEXT, chapter TEXT, status TEXT, reason TEXT,
            auto_score REAL, max_score REAL, input_hash TEXT,
            total_s REAL, execute_s REAL, kernel_start_s REAL, write_s REAL, updated TEXT,
            PRIMARY KEY (student, chapter))""")
        self.db.commit()

    def put(self, result):
        self.db.execute(
            "INSERT OR REPLACE INTO status VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (result.student, result.chapter, result.status, " ".join(result.reason.split()),
             result.auto_score if result.status == GRADED else None, result.max_score or None,
             result.input_hash, result.timings.get("total"), result.timings.get("execute"),
             result.timings.get("kernel_start"), result.timings.get("write"),
             datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")))
        self.db.commit()

    def get(self, student, chapter):
        row = self.db.execute("SELECT * FROM status WHERE student=? AND chapter=?",
                              (student, chapter)).fetchone()
        return dict(zip(self._columns(), row)) if row else None

    def all(self, chapters=None):
        rows = self.db.execute("SELECT * FROM status ORDER BY chapter, student").fetchall()
        out = [dict(zip(self._columns(), r)) for r in rows]
        return [r for r in out if not chapters or r["chapter"] in chapters]

    def _columns(self):
        return [d[1] for d in self.db.execute("PRAGMA table_info(status)")]

    def close(self):
        self.db.close()


class _Borrowed:
    """An open Gradebook lent to nbgrader's preprocessors, which `with` it (and would close it)."""

    def __init__(self, gb):
        self._gb = gb

    def __getattr__(self, name):
        return getattr(self._gb, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class _SaveAutoGrades(SaveAutoGrades):
    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.gradebook = resources["autograde"]["gradebook"]
        return super(SaveAutoGrades, self).preprocess(nb, resources)


class _AssignLatePenalties(AssignLatePenalties):
    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.student_id = resources["nbgrader"]["student"]
        self.init_plugin()
        gb = resources["autograde"]["gradebook"]
        assignment = gb.find_submission(self.assignment_id, self.student_id)
        notebook = gb.find_submission_notebook(self.notebook_id, self.assignment_id, self.student_id)
        notebook.late_submission_penalty = None
        if assignment.total_seconds_late > 0:
            penalty = self.plugin_inst.late_submission_penalty(
                self.student_id, notebook.score, assignment.total_seconds_late)
            if penalty is not None:
                notebook.late_submission_penalty = self._check_late_penalty(notebook, penalty)
        gb.db.commit()
        return nb, resources


class GradebookWriter:
    """Writes results into the gradebook, autograded/ and the status table."""

    def __init__(self, course, lock=True):
        self.course = course
        self._lock = writer_lock(course) if lock else None
        self.gb = Gradebook(course.db_url, course.coursedir.course_id)
        self.status = StatusStore(course.path("autograded") / STATUS_FILE)

    def close(self):
        self.gb.close()
        self.status.close()
        if self._lock is not None:
            self._lock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def is_done(self, student, chapter, input_hash):
        """Graded before from the same submission and master cells, and its files are there."""
        row = self.status.get(student, chapter)
        if not row or row["input_hash"] != input_hash:
            return False
        if row["status"] != GRADED:
            return True
        folder = self.course.path("autograded", student, chapter)
        return folder.is_dir() and any(folder.glob("*.ipynb"))

    def write(self, result):
        """Record one result: files, grades, status (in that order; each step commits);
        returns the result recorded (an error instead when the timestamp is bad).
        Ctrl-C during a write takes effect once the write is complete. On a failure
        the gradebook's unfinished changes are rolled back and the exception raised:
        the caller records it with `write_error`."""
        started = time.monotonic()
        with _sigint_deferred(), warnings.catch_warnings():
            # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are noise
            warnings.simplefilter("ignore", SAWarning)
            try:
                return self._write(result, started)
            except Exception:
                self.gb.db.rollback()
                raise

    def write_error(self, result):
        """Record an error result when `write` failed: the status row first (so the
        reason is never lost), then, where possible, the gradebook's review flag."""
        self.gb.db.rollback()
        self.status.put(result)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            try:
                self._flag_for_review(self.gb.find_submission(result.chapter, result.student))
            except MissingEntry:
                pass  # never saved: nothing in the gradebook to flag

    def _timestamp(self, result):
        """(timestamp or None, result): a timestamp.txt that is not a plausible time turns
        the result into an error naming the file; it is not a reason to stop the batch."""
        student, chapter = result.student, result.chapter
        path = self.course.path("submitted", student, chapter) / TIMESTAMP
        label = f"submitted/{student}/{chapter}/{TIMESTAMP}"
        if not path.is_file():
            return None, result
        try:
            return read_timestamp(path, label), result
        except (OSError, ValueError) as exc:
            # no input hash: once the file is fixed (or deleted) the next `grade` redoes it
            return None, dataclasses.replace(
                result, status=ERROR, input_hash="", scores={},
                reason=f"{exc}; fix or delete that file, then run grade again")

    def _write(self, result, started):
        course, student, chapter = self.course, result.student, result.chapter
        timestamp, result = self._timestamp(result)
        self.gb.update_or_create_student(student)
        submission = (self.gb.update_or_create_submission(chapter, student, timestamp=timestamp)
                      if timestamp else self.gb.update_or_create_submission(chapter, student))
        folder = course.path("autograded", student, chapter)
        _remove_tree(folder)
        if result.notebooks:
            folder.mkdir(parents=True, exist_ok=True)
            for rel, data in course._files_cached(chapter).items():
                target = folder / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        for name, text in result.notebooks.items():
            nb = nbformat.reads(text, as_version=4)
            if result.status == GRADED:
                resources = {"nbgrader": {"student": student, "assignment": chapter,
                                          "notebook": name, "db_url": course.db_url},
                             "autograde": {"gradebook": _Borrowed(self.gb)}}
                nb, resources = _SaveAutoGrades(config=course.config)(nb, resources)
                _AssignLatePenalties(config=course.config)(nb, resources)
            nbformat.write(nb, folder / f"{name}.ipynb")
        if result.status != GRADED or not result.notebooks:
            self._flag_for_review(submission)
        else:  # as nbgrader: a notebook of the chapter that was not submitted scores 0
            for notebook in submission.notebooks:
                if notebook.name not in result.notebooks:
                    for grade in notebook.grades:
                        grade.auto_score, grade.needs_manual_grade = 0, False
            self.gb.db.commit()
        result.timings["write"] = round(time.monotonic() - started, 3)
        self.status.put(result)
        return result

    def _flag_for_review(self, submission):
        """An errored submission has no automatic score: each grade waits for a person."""
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = None
                grade.needs_manual_grade = True
        self.gb.db.commit()

    def score(self, student, chapter):
        """(score, max_score, needs_manual_grade) from the gradebook, or None."""
        try:
            submission = self.gb.find_submission(chapter, student)
        except MissingEntry:
            return None
        return submission.score, submission.max_score, submission.needs_manual_grade


def writer_lock(course):
    """Hold autograded/autograde.lock so that two grading runs never write at once."""
    path = course.path("autograded") / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        handle.close()
        raise ValueError(f"another autograde run is writing to this course ({owner}); "
                         f"wait for it to finish (one writer at a time)") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


@contextlib.contextmanager
def _sigint_deferred():
    """Hold a Ctrl-C until the block is done (main thread only), then raise it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def _remove_tree(path):
    """rmtree that also removes nbgrader's read-only (444) files."""
    if not path.exists():
        return

    def make_writable(func, target, _):
        Path(target).chmod(stat.S_IRWXU)
        func(target)

    shutil.rmtree(path, onerror=make_writable)
