"""Where work units run: a local pool of worker processes, or a Dask cluster.

Both take `Job`s and yield `Result`s as they complete; the parent writes each
one as it arrives. Workers are long-lived (nbgrader, nbclient and friends are
imported once per worker, not once per submission). A worker never touches
the gradebook.

local  concurrent.futures.ProcessPoolExecutor (spawned processes). A worker
       that dies (killed by the OS, say) breaks the pool: it is rebuilt, and the
       submissions that were in flight are tried once more, then reported as
       errors.
dask   distributed.Client: an existing scheduler (tcp://host:8786), or a
       LocalCluster of N single-threaded worker processes when no address is
       given. The workers need this course's Python environment and `autograde`
       importable (see docs/instructor-guide.md).
"""
import concurrent.futures as cf
import multiprocessing
import os
import shutil
import signal
import tempfile
from pathlib import Path

from autograde.execute import ERROR, Result, grade_submission, scratch_prefix


def _worker_init():
    """In each local worker: leave Ctrl-C to the parent, and import the heavy parts once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import autograde.execute  # noqa: F401
    import nbconvert.preprocessors  # noqa: F401


def _pid(_):
    return os.getpid()


def _failed(job, reason):
    return Result(job.student, job.chapter, ERROR, reason, input_hash=job.input_hash())


class LocalBackend:
    name = "local"

    def __init__(self, workers=2):
        if workers < 1:
            raise ValueError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.pool = None
        self.work_dirs = set()

    def _start(self):
        self.pool = cf.ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init)

    def warm_up(self):
        """Start the workers now (so a benchmark does not count their start-up)."""
        if self.pool is None:
            self._start()
        list(self.pool.map(_pid, range(self.workers * 2)))

    def run(self, jobs):
        if self.pool is None:
            self._start()
        pending = list(jobs)[::-1]
        retried = set()
        in_flight = {}
        while pending or in_flight:
            while pending and len(in_flight) < 2 * self.workers:
                job = pending.pop()
                self.work_dirs.add(job.work_dir or tempfile.gettempdir())
                in_flight[self.pool.submit(grade_submission, job)] = job
            done, _ = cf.wait(in_flight, return_when=cf.FIRST_COMPLETED)
            broken = False
            for future in done:
                job = in_flight.pop(future)
                try:
                    yield future.result()
                except cf.process.BrokenProcessPool:
                    broken = True
                    key = (job.student, job.chapter)
                    if key in retried:
                        yield _failed(job, "the grader's worker process died while grading "
                                           "this submission (twice)")
                    else:
                        retried.add(key)
                        pending.append(job)
                except Exception as exc:  # noqa: BLE001 - e.g. a job that cannot be pickled
                    yield _failed(job, f"grader failure: {type(exc).__name__}: {exc}")
            if broken:
                for future, job in in_flight.items():
                    retried.add((job.student, job.chapter))
                    pending.append(job)
                in_flight.clear()
                self.close(kill=True)
                self._start()

    def close(self, kill=False):
        if self.pool is None:
            return
        if kill:
            for process in list(getattr(self.pool, "_processes", {}).values()):
                process.terminate()  # their kernels die with them (PR_SET_PDEATHSIG)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.pool = None
        if kill:  # the killed workers could not remove their scratch folders
            for base in self.work_dirs:
                for folder in Path(base).glob(scratch_prefix(os.getpid()) + "*"):
                    shutil.rmtree(folder, ignore_errors=True)


class DaskBackend:
    name = "dask"

    def __init__(self, scheduler="", workers=2, client=None):
        from distributed import Client, LocalCluster

        self.cluster = None
        if client is not None:
            self.client = client
        elif scheduler:
            self.client = Client(scheduler)
        else:
            self.cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None)
            self.client = Client(self.cluster)
        self.owns_client = client is None

    def warm_up(self):
        self.client.run(_worker_init_dask)

    def run(self, jobs):
        from distributed import as_completed

        futures = self._futures = {}
        for job in jobs:
            future = self.client.submit(grade_submission, job, pure=False, retries=1,
                                        key=f"grade-{job.chapter}-{job.student}-{os.urandom(4).hex()}")
            futures[future] = job
        for future in as_completed(futures):
            job = futures.pop(future)
            try:
                yield future.result()
            except Exception as exc:  # noqa: BLE001 - a worker lost twice, a pickling error...
                yield _failed(job, f"grader failure on the Dask cluster: {type(exc).__name__}: {exc}")
            finally:
                future.release()

    def close(self, kill=False):
        if kill and getattr(self, "_futures", None):
            self.client.cancel(list(self._futures))
        if self.owns_client:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()


def _worker_init_dask():
    import autograde.execute  # noqa: F401
    return os.getpid()


def make_backend(name, workers=2, scheduler=""):
    if name == "local":
        if scheduler:
            raise ValueError("--scheduler needs --backend dask")
        return LocalBackend(workers)
    if name == "dask":
        try:
            import distributed  # noqa: F401
        except ImportError as exc:
            raise ValueError("--backend dask needs the 'distributed' package") from exc
        return DaskBackend(scheduler, workers)
    raise ValueError(f"--backend must be 'local' or 'dask', got {name!r}")
