"""The course's grading engine: nbgrader autograding for a whole class, in parallel, under limits.

    python -m autograde --help

Modules, one job each:
    cli          the command line (import, grade, feedback, export, run, status, bench)
    config       settings from nbgrader_config.py (c.AutogradeLimits, c.AutogradeEngine)
    submissions  import LMS exports / zips / folders into submitted/
    layout       where things live in the course root; building work units
    master       the chapter's master cells, read once from the gradebook
    execute      the work unit: grade one submission of one chapter (pure function)
    judge        runs graded test cells in the grader's process; proxies to the kernel
    sandbox      bubblewrap namespaces + rlimits + Landlock around the kernel
    backends     local process pool or Dask
    batch        run a batch, writing each result as it arrives
    gradebook    the single writer: gradebook, autograded/, status table
    feedback     feedback HTML without hidden tests
    report       CSV export and the summary table
    bench        parallel engine vs plain `nbgrader autograde`
"""


def venv_tools_on_path():
    """Put this interpreter's bin/ first on PATH: nbgrader runs `alembic` (and
    jupyter its kernels) by name, which fails when the venv's python is started
    directly, without the venv activated."""
    import os
    import sys

    tools = os.path.dirname(os.path.abspath(sys.executable))
    if tools not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")


venv_tools_on_path()
