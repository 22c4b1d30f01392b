"""The unit of work: grade one submission of one chapter.

`grade_submission(job) -> Result` is a pure function of its input: the
submitted notebook(s) as bytes, the chapter's master cells (read once from the
gradebook by the parent, see master.py), the chapter's other files, the
nbgrader configuration and the limits. It touches no gradebook and no course
folder: it works in a private scratch folder and returns the executed notebook
with a status. The parent (gradebook.py) alone writes grades and files. So the
same function runs in a local process pool or on Dask workers.

Inside, it is nbgrader's own pipeline:
  sanitize   ClearOutput, DeduplicateIds, OverwriteKernelspec, OverwriteCells
             (add_missing_cells), CheckCellMetadata  -- answered from the master cells
  execute    nbgrader's Execute, extended (GradingExecutor) with a sandboxed
             kernel, a whole-notebook deadline, an output cap applied while cells
             run, and graded test cells run by the judge (judge.py), never in the kernel
  tidy       IgnorePattern, ClearMetadataPreprocessor, LimitOutput, CheckCellMetadata
SaveAutoGrades and AssignLatePenalties run in the parent, on the returned notebook.
"""
import copy
import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager
from nbclient.client import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import run_sync
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbconvert.preprocessors.sanitize import SanitizeHTML
from nbformat.notebooknode import NotebookNode
from nbgrader import utils as nbutils
from nbgrader.preprocessors import (
    CheckCellMetadata, ClearOutput, DeduplicateIds, Execute, IgnorePattern, LimitOutput,
    OverwriteCells, OverwriteKernelspec,
)
from traitlets import Bool, List, Unicode

from autograde import isolation, sandbox
from autograde.judge import ChannelBroken, JudgeCells
from autograde.config import Limits, as_config
from autograde.master import MasterGradebook, grade_ids, restore_stripped_metadata

log = logging.getLogger("autograde")

GRADED, ERROR, TIMEOUT = "graded", "error", "timeout"
INTERRUPT_GRACE_S = 10   # an interrupted cell that is not idle by then is killed

# Code that reaches into the grader's machinery: flagged for the instructor to look at.
SUSPICIOUS = {
    r"input_transformers|ast_transformers|input_transformer_manager": "IPython transformers",
    r"events\.register": "IPython event hooks",
    r"shell_handlers|control_handlers|\.kernel\b|helpers\.wire|user_expressions": "the kernel's internals",
    r"_getframe|f_globals|f_locals|f_back|gc\.get_referrers": "frame or garbage-collector introspection",
    r"sys\.modules": "sys.modules",
    r"__builtins__|\bbuiltins\b": "builtins",
    r"(^|\n)\s*(check|helpers)\s*=(?!=)": "reassigns check/helpers",
    r"\b(torch|F|helpers|check)(\.\w+)+\s*=(?!=)|setattr\(\s*(torch|F|helpers|check)\b":
        "monkeypatches torch/helpers/check",
    r"\bctypes\b": "ctypes",
    r"os\.kill|signal\.signal|os\._exit": "signals or os._exit",
}


@dataclasses.dataclass
class Job:
    """Everything one work unit needs (plain data, picklable)."""

    student: str
    chapter: str
    notebooks: dict            # notebook name -> submitted bytes
    master: dict               # master.read_master(...)
    files: dict                # relative path -> bytes: the chapter's other source files
    config: dict               # the course's nbgrader config (config.plain_config)
    limits: Limits
    helpers_dir: str = ""      # the course's helpers/ (a worker may have its own copy)
    check_path: str = ""       # unused (test cells run in the judge); kept for old callers
    read_paths: list = dataclasses.field(default_factory=list)   # data folders etc.
    work_dir: str = ""         # parent of the scratch folder ("" = system tmp)

    def input_hash(self):
        h = hashlib.sha256()
        for name in sorted(self.notebooks):
            h.update(name.encode() + b"\0" + self.notebooks[name] + b"\0")
        h.update(self.master.get("hash", "").encode())
        return h.hexdigest()[:16]


@dataclasses.dataclass
class Result:
    student: str
    chapter: str
    status: str                # graded | error | timeout
    reason: str = ""
    notebooks: dict = dataclasses.field(default_factory=dict)   # name -> executed nb (JSON str)
    scores: dict = dataclasses.field(default_factory=dict)      # name -> {grade_id: [score, max]}
    notes: list = dataclasses.field(default_factory=list)
    timings: dict = dataclasses.field(default_factory=dict)
    input_hash: str = ""

    @property
    def auto_score(self):
        return sum(s for nb in self.scores.values() for s, _ in nb.values() if s is not None)

    @property
    def max_score(self):
        return sum(m for nb in self.scores.values() for _, m in nb.values())


class SubmissionError(Exception):
    """The submission cannot be graded; the message says why (it becomes the reason)."""

    def __init__(self, message, status=ERROR):
        super().__init__(message)
        self.status = status


# ----------------------------------------------------------------- sanitize

class DeduplicateIdsTidy(DeduplicateIds):
    """nbgrader's DeduplicateIds (the last copy of a cell keeps its id), then drops the
    empty metadata it leaves on the other copies, which CheckCellMetadata rejects."""

    def preprocess(self, nb, resources):
        nb, resources = super().preprocess(nb, resources)
        for cell in nb.cells:
            if cell.metadata.get("nbgrader") == {}:
                del cell.metadata["nbgrader"]
        return nb, resources


class MasterOverwriteKernelspec(OverwriteKernelspec):
    def preprocess(self, nb, resources):
        kernelspec = MasterGradebook(resources["autograde"]["master"]).find_notebook(
            resources["nbgrader"]["notebook"], resources["nbgrader"]["assignment"]).kernelspec
        if kernelspec:
            nb.metadata["kernelspec"] = json.loads(kernelspec)
        return nb, resources


class MasterOverwriteCells(OverwriteCells):
    """nbgrader's OverwriteCells, answered from the master cells instead of the sqlite file."""

    def preprocess(self, nb, resources):
        self.notebook_id = resources["nbgrader"]["notebook"]
        self.assignment_id = resources["nbgrader"]["assignment"]
        self.gradebook = MasterGradebook(resources["autograde"]["master"])
        nb, resources = super(OverwriteCells, self).preprocess(nb, resources)
        if self.add_missing_cells:
            nb, resources = self.add_missing_grade_cells(nb, resources)
            nb, resources = self.add_missing_task_cells(nb, resources)
        return nb, resources

    def add_missing_grade_cells(self, nb, resources):
        """As nbgrader's, but a missing cell goes after the nearest earlier master cell
        that is present (nbgrader's looks only at the one just before, and fails when
        that one is missing too)."""
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        names = [c.name for c in source_nb.source_cells]
        solution_ids = {c.name for c in source_nb.solution_cells}
        for grade_cell in source_nb.grade_cells:
            where = {c.metadata.nbgrader["grade_id"]: i for i, c in enumerate(nb.cells)
                     if nbutils.is_grade(c) or nbutils.is_solution(c)}
            if grade_cell.name in where:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", grade_cell.name)
            k = names.index(grade_cell.name)
            earlier = [where[n] for n in reversed(names[:k]) if n in where]
            cell = nbformat.from_dict(self.missing_cell_transform(
                source_nb.source_cells[k], grade_cell.max_score,
                is_solution=grade_cell.name in solution_ids))
            nb.cells.insert(earlier[0] + 1 if earlier else 0, cell)
        return nb, resources


    def add_missing_task_cells(self, nb, resources):
        """As nbgrader's, but tolerates cells whose metadata DeduplicateIds emptied."""
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        present = grade_ids(nb)
        for task in source_nb.task_cells:
            if task.name not in present:
                nb.cells.append(nbformat.from_dict(
                    self.missing_cell_transform(task, task.max_score, is_task=True)))
        return nb, resources


class SanitizeOutputs(SanitizeHTML):
    """nbconvert's SanitizeHTML, on by default: no script in a student's markdown or
    outputs survives into the stored notebook, formgrader or feedback pages."""

    enabled = Bool(True).tag(config=True)


SANITIZE = [ClearOutput, DeduplicateIdsTidy, MasterOverwriteKernelspec, MasterOverwriteCells,
            CheckCellMetadata]
TIDY = [IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SanitizeOutputs, CheckCellMetadata]


def run_preprocessors(classes, nb, resources, config):
    for cls in classes:
        pp = cls(config=config)
        nb, resources = pp(nb, resources)
    return nb, resources


# ----------------------------------------------------------------- kernel

class SandboxedKernelManager(AsyncKernelManager):
    """A kernel manager whose kernel is started through `autograde.sandbox`."""

    sandbox_cmd = List(Unicode())

    def format_kernel_cmd(self, extra_arguments=None):
        kernel = [sys.executable, "-m", "ipykernel_launcher", "-f",
                  os.path.realpath(self.connection_file), *(extra_arguments or [])]
        return [*self.sandbox_cmd, "--", *kernel] if self.sandbox_cmd else kernel


class Scratch:
    """A private folder per work unit: work/ (the kernel's cwd), tmp/ (its TMPDIR and
    HOME) and lib/ (read-only for the kernel: the grading view of `helpers` and the
    sandbox wrapper)."""

    def __init__(self, base, helpers_dir):
        # Named after the parent (the pool's owner), which sweeps them if it kills its workers.
        self.root = Path(tempfile.mkdtemp(prefix=scratch_prefix(os.getppid()), dir=base or None))
        self.work, self.tmp, self.lib = self.root / "work", self.root / "tmp", self.root / "lib"
        for folder in (self.work, self.tmp / "home", self.lib):
            folder.mkdir(parents=True)
        if helpers_dir:
            grading_view_of_helpers(helpers_dir, self.lib / "helpers")
        shutil.copy(sandbox.__file__, self.lib / "sandbox.py")
        os.chmod(self.root, 0o755)

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)


# The reference kernels of chapters 1-5: while grading, the kernel gets stubs in their
# place, so no tripwire a student switches off can hand them the answer, and their
# source cannot be read. Test cells use the real ones in the judge.
REFERENCE_MODULES = ("conv.py", "pool.py", "columns.py", "transposed.py")
REFERENCE_STUB = '''"""Not available while a notebook is graded: the reference kernels stay with the grader."""


def __getattr__(name):
    from helpers._guard import ForbiddenCall

    raise ForbiddenCall(f"helpers.{name} is not available while your notebook is graded: "
                        f"your answers must not use the course's reference kernels.")
'''


def grading_view_of_helpers(helpers_dir, target):
    """A copy of helpers/ for the graded kernel, reference kernels replaced by stubs."""
    shutil.copytree(helpers_dir, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in REFERENCE_MODULES:
        if (target / name).exists():
            (target / name).write_text(REFERENCE_STUB)
    # The test cells' machinery (mistake builders call the references): the judge's alone.
    if (target / "exercises").is_dir():
        shutil.rmtree(target / "exercises")
        (target / "exercises").mkdir()
        (target / "exercises" / "__init__.py").write_text(REFERENCE_STUB)


def scratch_prefix(owner_pid):
    return f"ag-{owner_pid}-"


def system_read_paths():
    """Folders any kernel needs to read: the OS and this Python installation."""
    paths = ["/usr", "/lib", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys", "/dev"]
    for p in {sys.prefix, sys.base_prefix, sys.exec_prefix,
              os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}:
        paths += [p, os.path.realpath(p)]
    for entry in sys.path:
        if "-packages" in entry and os.path.isdir(entry):
            paths.append(os.path.realpath(entry))
    return list(dict.fromkeys(paths))


def kernel_environment(scratch, limits, job):
    keep = ("PATH", "LANG", "LANGUAGE", "TZ", "COURSE_DATA", "COURSE_CACHE")
    env = {k: v for k, v in os.environ.items() if k in keep or k.startswith("LC_")}
    threads = str(limits.cpu_threads)
    env.update({
        "HOME": str(scratch.tmp / "home"),
        "TMPDIR": str(scratch.tmp),
        "IPYTHONDIR": str(scratch.tmp / "ipython"),
        "MPLCONFIGDIR": str(scratch.tmp / "matplotlib"),
        "XDG_CACHE_HOME": str(scratch.tmp / "cache"),
        "XDG_CONFIG_HOME": str(scratch.tmp / "config"),
        "JUPYTER_CONFIG_DIR": str(scratch.tmp / "jupyter"),
        "JUPYTER_DATA_DIR": str(scratch.tmp / "jupyter"),
        "JUPYTER_RUNTIME_DIR": str(scratch.tmp / "runtime"),
        "PYTHONPATH": str(scratch.lib),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "NBGRADER_EXECUTION": "autograde",
        "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads,
        "OPENBLAS_NUM_THREADS": threads, "TORCH_NUM_THREADS": threads,
        "CUDA_VISIBLE_DEVICES": env.get("CUDA_VISIBLE_DEVICES", ""),
    })
    if limits.isolation == "bubblewrap":
        env["AUTOGRADE_ISOLATED"] = "1"
    if "COURSE_CACHE" not in env:
        env["COURSE_CACHE"] = os.path.expanduser("~/.cache/cnn-course/data")
    env.update({str(k): str(v) for k, v in limits.env.items()})
    return env


def sandbox_command(scratch, limits, job, env):
    """The command prefix that confines the kernel: bubblewrap's namespaces (unless
    isolation is 'none'), then sandbox.py's rlimits and Landlock."""
    reads = system_read_paths() + [str(scratch.lib), env["COURSE_CACHE"],
                                   *job.read_paths, *limits.read_paths]
    if env.get("COURSE_DATA"):
        reads.append(env["COURSE_DATA"])
    writes = [str(scratch.work), str(scratch.tmp), "/dev/null", *limits.write_paths]
    isolated = limits.isolation == "bubblewrap"
    cmd = [sys.executable, str(scratch.lib / "sandbox.py"),
           "--memory-mb", str(limits.memory_mb), "--file-size-mb", str(limits.file_size_mb),
           "--cpu-seconds", str(limits.notebook_timeout * limits.cpu_threads + 60),
           "--max-processes", str(limits.max_processes), "--report-fd", REPORT_FD]
    if not limits.landlock:
        cmd.append("--no-landlock")
    elif limits.require_landlock:
        cmd.append("--require-landlock")
    if isolated:
        cmd.append("--allow-tcp")      # the network namespace has only its own loopback
        writes.append("/dev/shm")      # a private tmpfs (torch.multiprocessing needs it)
    for p in dict.fromkeys(p for p in reads if p):
        cmd += ["--read", p]
    for p in dict.fromkeys(p for p in writes if p):
        cmd += ["--write", p]
    if isolated:
        cmd = isolation.bwrap_command(reads, [str(scratch.work), str(scratch.tmp)],
                                      str(scratch.work)) + ["--"] + cmd
    return cmd


REPORT_FD = "{report_fd}"   # the executor puts its pipe's number here (GradingExecutor.setup)


# ----------------------------------------------------------------- execute

class GradingExecutor(JudgeCells, Execute):
    """nbgrader's Execute with a sandboxed kernel, a whole-notebook deadline, an
    output cap applied as outputs arrive, and graded test cells run by the judge."""

    def setup(self, limits, scratch, env, sandbox_cmd):
        self.limits = limits
        self.scratch = scratch
        self.kernel_env = env
        # The sandbox wrapper reports on a pipe of its own, closed before the kernel
        # starts: nothing the kernel writes can pass for a grader message.
        self.report_read, self.report_write = os.pipe()
        os.set_blocking(self.report_read, False)
        self.sandbox_cmd = [str(self.report_write) if part == REPORT_FD else part
                            for part in sandbox_cmd]
        self.timeout = limits.cell_timeout
        self.shutdown_kernel = "immediate"   # a kill: nothing of the kernel is needed after
        self.kernel_log = scratch.root / "kernel.log"
        self.notes = []
        self.stopped = None            # (status, reason) when the run ended early
        self.killed_from_outside = False   # SIGKILL with no limit's evidence: worth one retry
        self.timings = {}
        return self

    # -- kernel
    def create_kernel_manager(self):
        self.km = SandboxedKernelManager(
            kernel_name="python3", config=self.config, transport="ipc",
            sandbox_cmd=self.sandbox_cmd)
        self.km.connection_file = str(self.scratch.tmp / "kernel.json")
        self.km.ip = str(self.scratch.tmp / "ipc")
        return self.km

    # -- time limits
    def _get_timeout(self, cell):
        remaining = self.deadline - time.monotonic()
        self._deadline_bound = remaining < self.limits.cell_timeout
        return max(1, int(min(self.limits.cell_timeout, remaining + 0.999)))

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = (timeout, self._deadline_bound)
        # After the interrupt, the kernel has this long to go idle before it is killed.
        self.iopub_timeout = INTERRUPT_GRACE_S
        return await super()._async_handle_timeout(timeout, cell)

    # -- output cap
    def output(self, outs, msg, display_id, cell_index):
        kind, content = msg["msg_type"], msg["content"]
        cap = self.limits.max_output_kb * 1024
        room = min(cap - self._cell_used, self._nb_room)
        if kind == "stream":
            text = content.get("text", "")
            if len(text) > room:
                same = any(o.get("output_type") == "stream" and o.get("name") == content.get("name")
                           for o in outs)
                keep = text[:max(room, 0)]
                if not self._truncated:
                    keep += (f"\n[... output truncated by the grader: past its limit of "
                             f"{self.limits.max_output_kb} KB per cell, "
                             f"{self.limits.max_notebook_output_kb} KB per notebook ...]\n")
                    self._truncated = True
                elif same:
                    return None
                content["text"] = keep
                text = keep
            self._charge(len(text))
        elif kind in ("display_data", "execute_result", "update_display_data"):
            data = content.get("data", {})
            size = sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())
            if size > room:
                content["data"] = {"text/plain": f"[output of {size // 1024} KB dropped: past the "
                                                 f"grader's output cap]"}
                content["metadata"] = {}
                size = 100
            self._charge(size)
        elif kind == "error":
            content["evalue"] = str(content.get("evalue", ""))[:4000]
            tb = content.get("traceback", [])
            if sum(len(line) for line in tb) > 40000:
                content["traceback"] = [line[:2000] for line in tb[:10]] + ["..."] + \
                                       [line[:2000] for line in tb[-10:]]
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        # An update replaces an earlier output in place: cap it like a new one.
        data = msg.get("content", {}).get("data", {})
        size = sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in data.values())
        if size > min(self.limits.max_output_kb * 1024, max(self._nb_room, 0)):
            msg["content"]["data"] = {"text/plain": f"[display update of {size // 1024} KB dropped: "
                                                    f"past the grader's output cap]"}
            msg["content"]["metadata"] = {}
        return super()._update_display_id(display_id, msg)

    def handle_comm_msg(self, outs, msg, cell_index):
        # Widget state is kept in the notebook too: stop keeping it once past the cap.
        self._charge(len(json.dumps(msg.get("content", {}).get("data", {}), default=str)))
        if self._nb_room < 0:
            return None
        return super().handle_comm_msg(outs, msg, cell_index)

    def _charge(self, n):
        self._cell_used += n
        self._nb_room -= n

    # -- cells
    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        self._cell_used, self._truncated, self._timed_out = 0, False, None
        # Once a cell has replied, its outputs may still be draining (a flood of prints on a
        # busy machine): wait for them up to the notebook's deadline, not nbclient's 4 s.
        self.iopub_timeout = max(INTERRUPT_GRACE_S, int(self.deadline - time.monotonic()))
        return await super().async_execute_cell(cell, cell_index, execution_count, store_history)

    def preprocess_cell(self, cell, resources, index):
        # A graded test cell goes to the judge (JudgeCells), within the same time limits.
        self.judge_timeout = self._get_timeout(cell)
        return super().preprocess_cell(cell, resources, index)

    execute_cell = run_sync(async_execute_cell)

    def preprocess(self, nb, resources=None, km=None):
        """Run every cell, stopping at the deadline; records why it stopped in self.stopped."""
        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._nb_room = self.limits.max_notebook_output_kb * 1024
        self._cell_used, self._truncated, self._timed_out = 0, False, None
        self._exit_code = None
        self._oom_kills_before = oom_kills()
        self.deadline = time.monotonic() + self.limits.notebook_timeout
        start = self._started = time.monotonic()
        marks = {}
        index = -1
        log_file = open(self.kernel_log, "wb")
        try:
            with self.setup_kernel(cwd=str(self.scratch.work), env=self.kernel_env,
                                   stdout=log_file, stderr=log_file,
                                   pass_fds=(self.report_write,)):
                info = self.wait_for_reply(self.kc.kernel_info())
                if info is None:
                    raise DeadKernelError("no reply to kernel_info")
                self.nb.metadata["language_info"] = info["content"]["language_info"]
                marks["kernel"] = time.monotonic()
                marks["exec"] = time.monotonic()
                for index, cell in enumerate(self.nb.cells):
                    if time.monotonic() >= self.deadline:
                        self.stopped = (TIMEOUT, self._deadline_reason(index))
                        break
                    self.preprocess_cell(cell, resources, index)
                    if self._timed_out:
                        seconds, deadline_bound = self._timed_out
                        if deadline_bound:
                            self.stopped = (TIMEOUT, self._deadline_reason(index))
                            break
                        self.notes.append(f"cell {index + 1}{_cell_label(cell)} was interrupted "
                                          f"after the {seconds} s cell time limit")
                marks["done"] = time.monotonic()
        except CellTimeoutError:
            where = f"cell {index + 1}{_cell_label(nb.cells[index])}"
            if self._timed_out:
                seconds, deadline_bound = self._timed_out
                what = ("the notebook time limit" if deadline_bound
                        else f"the {seconds} s cell time limit")
                reason = (f"{where} ran past {what} and did not stop when interrupted; "
                          f"the kernel was killed")
            else:
                reason = f"{where}: its output did not finish before the notebook time limit"
            self._mark(index, "CellTimeoutError", reason)
            self.stopped = (TIMEOUT, reason)
        except DeadKernelError:
            self.stopped = (ERROR, self._death_reason(index, nb))
            self._mark(index, "DeadKernelError", self.stopped[1])
        except ChannelBroken as exc:
            self.stopped = (ERROR, f"{exc} (cell {index + 1}{_cell_label(nb.cells[index])})")
            self._mark(index, "ChannelBroken", str(exc))
        finally:
            log_file.close()
            end = time.monotonic()
            self.timings = {
                "kernel_start": round(marks.get("kernel", end) - start, 3),
                "execute": round(marks.get("done", end) - marks.get("exec", end), 3),
                "kernel_stop": round(end - marks.get("done", end), 3),
            }
        return self.nb, self.resources

    async def _async_cleanup_kernel(self):
        """Remember how the kernel ended before nbclient forgets it."""
        try:
            process = getattr(getattr(self.km, "provisioner", None), "process", None)
            if process is not None and self._exit_code is None:
                self._exit_code = process.poll()
        except Exception:  # noqa: BLE001 - best effort only
            pass
        await super()._async_cleanup_kernel()

    _cleanup_kernel = run_sync(_async_cleanup_kernel)

    def _mark(self, index, ename, evalue):
        """Leave the grader's verdict in the cell where it happened (for the instructor)."""
        if 0 <= index < len(self.nb.cells) and self.nb.cells[index].cell_type == "code":
            self.nb.cells[index].outputs.append(nbformat.v4.new_output(
                "error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"]))

    def _deadline_reason(self, index):
        return (f"the notebook ran past its {self.limits.notebook_timeout} s time limit "
                f"(stopped at cell {index + 1} of {len(self.nb.cells)})")

    def _death_reason(self, index, nb):
        code = self._exit_code
        if code is not None and code > 128 and self.limits.isolation == "bubblewrap":
            code = 128 - code   # bwrap exits with 128 + N when the kernel dies of signal N
        where = f"cell {index + 1}{_cell_label(nb.cells[index])}" if index >= 0 else "start-up"
        if code is not None and code < 0:
            how = f"was killed by signal {-code}{self._kill_cause(-code)}"
        elif code is not None:
            how = f"exited with code {code} (os._exit or sys.exit in the kernel?)"
        else:
            how = "died"
        return f"the kernel {how} while running {where}" + self.log_tail()

    def _kill_cause(self, signum):
        """Which limit killed the kernel, from the limits' own evidence (else: from outside)."""
        if signum == 24:   # SIGXCPU: RLIMIT_CPU's soft limit
            return " (its CPU time limit)"
        if signum == 6:    # SIGABRT: C++ code aborts when an allocation fails
            return f" (aborted: often a failed allocation under its {self.limits.memory_mb} MB memory limit)"
        if signum != 9:
            return ""
        after = oom_kills()
        if after is not None and self._oom_kills_before is not None and after > self._oom_kills_before:
            return (" by the system's out-of-memory killer: the grading machine ran short of memory "
                    "(grade fewer submissions at once, or lower memory_mb)")
        # RLIMIT_CPU's hard limit: only reachable when the kernel used more CPU time than
        # every core could have given it since it started.
        cpu_seconds = self.limits.notebook_timeout * self.limits.cpu_threads + 60
        if (time.monotonic() - self._started) * (os.cpu_count() or 1) >= cpu_seconds:
            return f" (its CPU time limit of {cpu_seconds} s)"
        self.killed_from_outside = True
        return " from outside the grader (no grading limit was reached)"

    def log_tail(self):
        """The sandbox wrapper's own complaints, from its pipe (else "")."""
        try:
            text = os.read(self.report_read, 4096).decode(errors="replace")
        except (BlockingIOError, OSError):
            return ""
        lines = [line for line in text.splitlines() if line.strip()]
        return f" [{lines[-1][:300]}]" if lines else ""

    def close_report(self):
        for fd in (self.report_read, self.report_write):
            try:
                os.close(fd)
            except OSError:
                pass


def oom_kills():
    """How many processes the kernel's OOM killer has killed since boot (None if unknown)."""
    try:
        with open("/proc/vmstat") as f:
            for line in f:
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _cell_label(cell):
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f" ('{gid}')" if gid else ""


# ----------------------------------------------------------------- the unit

def grade_submission(job: Job) -> Result:
    """Grade one submission of one chapter. Never raises for a bad submission:
    it returns a Result with status error or timeout and the reason."""
    started = time.monotonic()
    result = Result(job.student, job.chapter, GRADED, input_hash=job.input_hash())
    try:
        _grade(job, result)
    except SubmissionError as exc:
        result.status, result.reason = exc.status, str(exc)
    except Exception as exc:  # noqa: BLE001 - a grader bug must not stop the batch
        log.exception("grading %s/%s failed", job.student, job.chapter)
        result.status, result.reason = ERROR, f"grader failure: {type(exc).__name__}: {exc}"
    if result.notes and result.status == GRADED:
        result.reason = "; ".join(result.notes)
    elif result.notes:
        result.reason = "; ".join([result.reason, *result.notes])
    result.timings["total"] = round(time.monotonic() - started, 3)
    return result


def _grade(job, result):
    limits = job.limits
    config = as_config(job.config)
    if not job.notebooks:
        raise SubmissionError("no notebook in the submission")
    unknown = sorted(set(job.notebooks) - set(job.master["notebooks"]))
    if len(unknown) == len(job.notebooks):
        expected = ", ".join(f"{n}.ipynb" for n in job.master["notebooks"])
        raise SubmissionError(f"no notebook of chapter {job.chapter} in the submission "
                              f"(expected {expected}, found {', '.join(unknown)})")
    if unknown:
        result.notes.append(f"ignored notebook(s) not in the chapter: {', '.join(unknown)}")
    helpers_dir = _locate_helpers(job)
    if limits.isolation == "bubblewrap":
        reason = isolation.probe()
        if reason:
            raise SubmissionError(f"refused: kernels cannot be isolated on this machine ({reason}); "
                                  f"install bubblewrap, or set c.AutogradeLimits.isolation = 'none' "
                                  f"to grade without isolation")
    else:
        result.notes.append("not isolated: c.AutogradeLimits.isolation is 'none'")
    if limits.landlock and sandbox.landlock_abi() < 1:
        if limits.require_landlock:
            raise SubmissionError("Landlock is unavailable on this machine and "
                                  "require_landlock is set")
        result.notes.append("not sandboxed: Landlock unavailable on the grading machine")
    timings = {"kernel_start": 0.0, "execute": 0.0, "kernel_stop": 0.0}
    for name in sorted(set(job.notebooks) - set(unknown)):
        nb = _read_notebook(name, job.notebooks[name], job)
        master_nb = job.master["notebooks"][name]
        _check_chapter(nb, master_nb, job.chapter)
        restored = restore_stripped_metadata(nb, master_nb)
        if restored:
            result.notes.append(f"restored the nbgrader metadata of {len(restored)} cell(s)")
        flags = _suspicious(nb)
        resources = {
            "unique_key": name,
            "nbgrader": {"student": job.student, "assignment": job.chapter, "notebook": name,
                         "db_url": None},
            "autograde": {"master": job.master},
        }
        try:
            nb, resources = run_preprocessors(SANITIZE, nb, resources, config)
            nb = nbformat.from_dict(nb)  # as nbgrader's write + re-read between its two stages
        except Exception as exc:  # noqa: BLE001 - nbgrader's validation errors
            raise SubmissionError(f"{name}.ipynb: the nbgrader metadata cannot be repaired: "
                                  f"{exc}") from exc
        executor, ran = _execute(job, limits, config, helpers_dir, nb, resources)
        if executor.killed_from_outside:
            # Killed by something other than a grading limit (an operator, a host watchdog):
            # not the student's doing, so the notebook gets one more try.
            first = executor.stopped[1]
            executor, ran = _execute(job, limits, config, helpers_dir, nb, resources)
            result.notes.append(f"retried once: on the first try {first}")
        nb, resources = ran
        for key in timings:
            timings[key] += executor.timings.get(key, 0.0)
        result.notes.extend(executor.notes)
        nb, resources = run_preprocessors(TIDY, nb, resources, config)
        result.notebooks[name] = capped_notebook(nb, limits, result.notes)
        result.scores[name] = {
            c.metadata.nbgrader["grade_id"]: list(nbutils.determine_grade(c, log))
            for c in nb.cells if nbutils.is_grade(c)
        }
        if flags:
            result.notes.append("review: the code uses " + ", ".join(flags))
        if executor.stopped:
            result.status, result.reason = executor.stopped
            break
    result.timings.update(timings)


def _execute(job, limits, config, helpers_dir, nb, resources):
    """Run one sanitised notebook in a fresh scratch folder and sandboxed kernel.
    Returns (executor, (nb, resources)); nb and resources given are not changed."""
    nb, resources = copy.deepcopy(nb), copy.deepcopy(resources)
    scratch = Scratch(job.work_dir, helpers_dir)
    executor = None
    try:
        for rel, data in job.files.items():
            target = scratch.work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        env = kernel_environment(scratch, limits, job)
        executor = GradingExecutor(config=config).setup(
            limits, scratch, env, sandbox_command(scratch, limits, job, env))
        with nbutils.setenv(NBGRADER_EXECUTION="autograde"):
            try:
                nb, resources = executor.preprocess(nb, resources)
            except RuntimeError as exc:  # kernel start-up failures
                raise SubmissionError(f"the kernel could not start: {exc}"
                                      f"{executor.log_tail()}") from exc
    finally:
        if executor is not None:
            executor.close_report()
        scratch.remove()
    return executor, (nb, resources)


def capped_notebook(nb, limits, notes):
    """The graded notebook as JSON, within its size limit: past it, the outputs of
    cells that are not graded tests are dropped (the grade is in the test cells)."""
    text = nbformat.writes(nb)
    limit = 2 * limits.max_notebook_output_kb * 1024 + 4 * 2**20
    if len(text) <= limit:
        return text
    for cell in nb.cells:
        if cell.cell_type == "code" and not nbutils.is_grade(cell):
            cell.outputs = []
    nb.metadata.pop("widgets", None)
    notes.append(f"outputs dropped: the graded notebook was {len(text) // 1024} KB, "
                 f"over its {limit // 1024} KB limit")
    return nbformat.writes(nb)


def _locate_helpers(job):
    """The helpers folder for the kernel: the job's when it exists here, else the
    `helpers` package this worker can import."""
    helpers_dir = job.helpers_dir
    if not helpers_dir or not os.path.isdir(helpers_dir):
        import importlib.util

        spec = importlib.util.find_spec("helpers")
        helpers_dir = os.path.dirname(spec.origin) if spec and spec.origin else ""
    return os.path.realpath(helpers_dir) if helpers_dir else ""


def _read_notebook(name, data, job):
    """The submitted notebook, as version 4; SubmissionError when it is not a notebook."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SubmissionError(f"{name}.ipynb is not a valid notebook: not UTF-8 text "
                              f"(a binary or damaged file?)") from exc
    try:
        json.loads(text)
    except ValueError as exc:
        raise SubmissionError(f"{name}.ipynb is not a valid notebook: corrupt JSON "
                              f"({exc}; a truncated or damaged file?)") from exc
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises several kinds
        first_line = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise SubmissionError(f"{name}.ipynb is not a valid notebook: "
                              f"{type(exc).__name__}: {first_line}") from exc
    cells = nb.get("cells")
    if not isinstance(cells, list) or not all(
            isinstance(c, dict) and c.get("cell_type") in ("code", "markdown", "raw")
            and isinstance(c.get("source"), str) for c in cells):
        raise SubmissionError(f"{name}.ipynb is not a valid notebook: its cells are malformed")
    for cell in cells:
        cell.setdefault("metadata", NotebookNode())
        if cell.cell_type == "code":
            cell.setdefault("outputs", [])
            cell.setdefault("execution_count", None)
    return nb


def _check_chapter(nb, master_nb, chapter):
    """Refuse a notebook of another chapter: it has nbgrader cells, none of this chapter's."""
    ids = grade_ids(nb)
    master_ids = {c["name"] for c in master_nb["cells"]}
    if ids and not ids & master_ids:
        shown = ", ".join(sorted(ids)[:4])
        raise SubmissionError(f"wrong chapter: this notebook's exercises ({shown}) are not "
                              f"those of {chapter}")


def _suspicious(nb):
    code = "\n".join(c.source for c in nb.cells
                     if c.cell_type == "code" and not nbutils.is_locked(c))
    return [label for pattern, label in SUSPICIOUS.items() if re.search(pattern, code)]
