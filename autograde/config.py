"""Settings of the grading engine, read from the course's nbgrader_config.py.

Everything an instructor may tune lives beside nbgrader's own settings:

    c.AutogradeLimits.cell_timeout = 60          # seconds per cell (default: c.Execute.timeout)
    c.AutogradeLimits.notebook_timeout = 600     # seconds for a whole notebook
    c.AutogradeLimits.memory_mb = 6000           # address space of the kernel
    c.AutogradeEngine.workers = 4                # notebooks graded at once

Command-line flags override the file (see `python -m autograde grade --help`).
`Limits` is the plain, picklable copy that travels with each work unit.
"""
import dataclasses
import os
from pathlib import Path

from traitlets import Bool, Dict, Enum, Integer, List, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import PyFileConfigLoader

CONFIG_FILE = "nbgrader_config.py"


class AutogradeLimits(Configurable):
    """Limits on a student's notebook while it is graded."""

    cell_timeout = Integer(
        None, allow_none=True,
        help="Seconds one cell may run before it is interrupted (default: c.Execute.timeout, else 60).",
    ).tag(config=True)
    notebook_timeout = Integer(
        600, help="Seconds the whole notebook may run; past it the submission is a 'timeout'.",
    ).tag(config=True)
    memory_mb = Integer(
        6000,
        help="Address-space limit of the kernel in MB. The CUDA build of torch needs about "
             "3.2 GB of address space just to import: keep this >= 4000.",
    ).tag(config=True)
    max_output_kb = Integer(
        256, help="Output kept per cell (KB); the rest is dropped while the cell runs.",
    ).tag(config=True)
    max_notebook_output_kb = Integer(
        4096, help="Output kept per notebook (KB).",
    ).tag(config=True)
    file_size_mb = Integer(1024, help="Largest file the kernel may write (MB).").tag(config=True)
    max_processes = Integer(
        0, help="RLIMIT_NPROC for the kernel (0: unset). Counts every process of the user, "
                "and root ignores it.",
    ).tag(config=True)
    cpu_threads = Integer(1, help="Torch/OpenMP threads per kernel (1 suits one kernel per core).").tag(config=True)
    isolation = Enum(
        ["bubblewrap", "none"], "bubblewrap",
        help="Run each kernel in its own namespaces with bubblewrap (autograde/isolation.py). "
             "'none' grades without them, and every reason says 'not isolated'.",
    ).tag(config=True)
    landlock = Bool(True, help="Confine the kernel's files, network and signals with Landlock.").tag(config=True)
    require_landlock = Bool(False, help="Refuse to grade when Landlock is unavailable.").tag(config=True)
    read_paths = List(Unicode(), help="Extra folders the kernel may read.").tag(config=True)
    write_paths = List(Unicode(), help="Extra folders the kernel may write in (e.g. '/dev/shm').").tag(config=True)
    env = Dict(
        {"COURSE_PROFILE": "fast"}, help="Environment variables set in the kernel.",
    ).tag(config=True)


class AutogradeEngine(Configurable):
    """How the batch runs."""

    workers = Integer(2, help="Notebooks graded at once on this machine (local backend).").tag(config=True)
    backend = Enum(["local", "dask"], "local", help="'local' (a process pool) or 'dask'.").tag(config=True)
    scheduler = Unicode("", help="Dask scheduler address, e.g. tcp://host:8786 (dask backend).").tag(config=True)
    work_dir = Unicode("", help="Where kernels get their scratch folders (default: the system tmp).").tag(config=True)
    check_module = Unicode(
        "", help="helpers/check.py, re-loaded before every graded test cell (default: <root>/helpers/check.py).",
    ).tag(config=True)


@dataclasses.dataclass
class Limits:
    """The limits one work unit runs under (plain data: it crosses process boundaries)."""

    cell_timeout: int = 60
    notebook_timeout: int = 600
    memory_mb: int = 6000
    max_output_kb: int = 256
    max_notebook_output_kb: int = 4096
    file_size_mb: int = 1024
    max_processes: int = 0
    cpu_threads: int = 1
    isolation: str = "bubblewrap"
    landlock: bool = True
    require_landlock: bool = False
    read_paths: list = dataclasses.field(default_factory=list)
    write_paths: list = dataclasses.field(default_factory=list)
    env: dict = dataclasses.field(default_factory=dict)

    def check(self):
        """Raise ValueError naming the setting that is out of range."""
        positive = ["cell_timeout", "notebook_timeout", "max_output_kb", "max_notebook_output_kb",
                    "cpu_threads"]
        for name in positive:
            if getattr(self, name) is None or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number, got {getattr(self, name)!r}")
        if self.memory_mb and self.memory_mb < 4000:
            raise ValueError(
                f"memory_mb={self.memory_mb} is too small: importing torch (CUDA build) alone "
                f"needs about 3.2 GB of address space; use at least 4000, or 0 for no limit")
        return self


def find_course_root(start=None):
    """The folder holding nbgrader_config.py: `start`, or the first parent that has one."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / CONFIG_FILE).exists():
            return folder
    raise FileNotFoundError(
        f"no {CONFIG_FILE} in {here} or its parents: run from the course root or pass --course-root")


def load_config(root):
    """The course's nbgrader_config.py as a traitlets Config."""
    root = Path(root)
    path = root / CONFIG_FILE
    if not path.exists():
        raise FileNotFoundError(f"--course-root {root}: no {CONFIG_FILE} there")
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def limits_from_config(config, **overrides):
    """Limits from the config, with non-None `overrides` (command-line flags) on top."""
    traits = AutogradeLimits(config=config)
    values = {f.name: getattr(traits, f.name) for f in dataclasses.fields(Limits)}
    values["read_paths"], values["write_paths"] = list(values["read_paths"]), list(values["write_paths"])
    values["env"] = dict(values["env"])
    if values["cell_timeout"] is None:
        execute = config.get("Execute", {})
        values["cell_timeout"] = int(execute["timeout"]) if execute.get("timeout") else 60
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Limits(**values).check()


def engine_from_config(config):
    return AutogradeEngine(config=config)


def plain_config(config):
    """A Config as nested plain dicts (safe to pickle and send to a Dask worker)."""
    return {k: plain_config(v) if isinstance(v, (Config, dict)) else v for k, v in config.items()}


def as_config(plain):
    return Config(plain)
