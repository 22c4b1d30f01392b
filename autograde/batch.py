"""Run a batch: build the work units, send them to a backend, write each result as it arrives.

The parent process is the only one that writes (gradebook.GradebookWriter).
Ctrl-C stops the workers and their kernels; every result written before it stays.
"""
import dataclasses
import sys
import time

from autograde.execute import ERROR, GRADED, TIMEOUT, Result
from autograde.gradebook import GradebookWriter

SKIPPED = "skipped"


@dataclasses.dataclass
class BatchReport:
    results: list
    skipped: list
    wall_s: float
    interrupted: bool = False


def plan(course, chapters, limits, writer, students=None, force=False, retry_errors=False):
    """(jobs to run, [(student, chapter)] already done)."""
    jobs, skipped = [], []
    for student, chapter in course.submissions(chapters, students):
        job = course.job(student, chapter, limits)
        row = writer.status.get(student, chapter)
        if not force and writer.is_done(student, chapter, job.input_hash()):
            if not (retry_errors and row and row["status"] != GRADED):
                skipped.append((student, chapter))
                continue
        jobs.append(job)
    return jobs, skipped


def run_batch(course, chapters, limits, backend, students=None, force=False,
              retry_errors=False, progress=True, on_result=None):
    """Grade every submission of `chapters`; returns a BatchReport."""
    for chapter in chapters:
        course.master(chapter)  # fail early, with the fix, if a chapter was never generated
    started = time.monotonic()
    results = []
    interrupted = False
    with GradebookWriter(course) as writer:
        jobs, skipped = plan(course, chapters, limits, writer, students, force, retry_errors)
        bar = _progress(len(jobs), progress)
        counts = {GRADED: 0, ERROR: 0, TIMEOUT: 0}
        try:
            for result in backend.run(jobs):
                writer.write(result)
                results.append(result)
                counts[result.status] = counts.get(result.status, 0) + 1
                if on_result:
                    on_result(result)
                if bar is not None:
                    bar.set_postfix_str(f"{result.student}/{result.chapter}: {result.status}"
                                        f" | errors {counts[ERROR]} timeouts {counts[TIMEOUT]}")
                    bar.update(1)
        except KeyboardInterrupt:
            interrupted = True
            backend.close(kill=True)
        finally:
            if bar is not None:
                bar.close()
    return BatchReport(results, skipped, time.monotonic() - started, interrupted)


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True)


__all__ = ["BatchReport", "Result", "SKIPPED", "plan", "run_batch"]
