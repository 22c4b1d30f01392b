"""Run a batch: build the work units, send them to a backend, write each result as it arrives.

The parent process is the only one that writes (gradebook.GradebookWriter).
Ctrl-C stops the workers and their kernels; every result written before it stays.

One submission's failure is that submission's error row, never the batch's end:
a submission that cannot be read, a result that cannot be saved, each becomes
an error with a reason naming the student, and the others go on. If the backend
itself breaks, the submissions it had not returned become errors too. Such rows
carry no input hash, so the same command later tries them again.
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
    """(jobs to run, [(student, chapter)] already done, [error Result] for the
    submissions that could not be read)."""
    jobs, skipped, failed = [], [], []
    for student, chapter in course.submissions(chapters, students):
        try:
            job = course.job(student, chapter, limits)
            done = not force and writer.is_done(student, chapter, job.input_hash())
            row = writer.status.get(student, chapter)
        except Exception as exc:  # noqa: BLE001 - an unreadable submission is its own error
            failed.append(_failure(student, chapter, "its submission could not be read", exc))
            continue
        if done and not (retry_errors and row and row["status"] != GRADED):
            skipped.append((student, chapter))
            continue
        jobs.append(job)
    return jobs, skipped, failed


def run_batch(course, chapters, limits, backend, students=None, force=False,
              retry_errors=False, progress=True, on_result=None):
    """Grade every submission of `chapters`; returns a BatchReport."""
    for chapter in chapters:
        # fail early, with the fix, if a chapter was never generated or its files are too big:
        # those are the course's problems, not one submission's
        course.master(chapter)
        course._files_cached(chapter)
    started = time.monotonic()
    results = []
    interrupted = False
    with GradebookWriter(course) as writer:
        jobs, skipped, failed = plan(course, chapters, limits, writer, students, force, retry_errors)
        bar = _progress(len(jobs) + len(failed), progress)
        counts = {GRADED: 0, ERROR: 0, TIMEOUT: 0}

        def record(result, save):
            result = save(writer, result)
            results.append(result)
            counts[result.status] = counts.get(result.status, 0) + 1
            if on_result:
                on_result(result)
            if bar is not None:
                bar.set_postfix_str(f"{result.student}/{result.chapter}: {result.status}"
                                    f" | errors {counts[ERROR]} timeouts {counts[TIMEOUT]}")
                bar.update(1)

        try:
            for result in failed:
                record(result, _save_error)
            for result in _results(backend, jobs):
                record(result, _save)
        except KeyboardInterrupt:
            interrupted = True
            backend.close(kill=True)
        finally:
            if bar is not None:
                bar.close()
    return BatchReport(results, skipped, time.monotonic() - started, interrupted)


def _results(backend, jobs):
    """The backend's results; if the backend itself fails, an error for each job it
    had not returned (they are graded on the next run), then the end."""
    waiting = {(job.student, job.chapter): job for job in jobs}
    try:
        for result in backend.run(jobs):
            waiting.pop((result.student, result.chapter), None)
            yield result
    except Exception as exc:  # noqa: BLE001 - a broken backend must not lose the others' results
        for student, chapter in waiting:
            yield _failure(student, chapter, "not graded: the grading backend failed", exc)


def _save(writer, result):
    """Write one result; if that fails, record it as this submission's error instead."""
    try:
        return writer.write(result)
    except Exception as exc:  # noqa: BLE001 - one result that cannot be saved must not stop the rest
        return _save_error(writer, _failure(result.student, result.chapter,
                                            "its result could not be saved", exc))


def _save_error(writer, result):
    try:
        writer.write_error(result)
    except Exception as exc:  # noqa: BLE001 - still shown in the summary
        print(f"autograde: could not record the error of {result.student}/{result.chapter} "
              f"({type(exc).__name__}: {exc}): {result.reason}", file=sys.stderr)
    return result


def _failure(student, chapter, what, exc):
    """An error Result whose reason names the student and the exception."""
    return Result(student, chapter, ERROR,
                  f"{student}/{chapter}: {what}: {type(exc).__name__}: {exc}")


def _progress(total, enabled):
    if not enabled or total == 0:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="nb", desc="grading", file=sys.stderr, dynamic_ncols=True)


__all__ = ["BatchReport", "Result", "SKIPPED", "plan", "run_batch"]
