"""The course's grading engine: nbgrader autograding for a whole class, in parallel, under limits.

    python -m autograde --help

Modules, one job each:
    cli          the command line (import, grade, feedback, export, run, status, bench)
    config       settings from nbgrader_config.py (c.AutogradeLimits, c.AutogradeEngine)
    submissions  import LMS exports / zips / folders into submitted/
    layout       where things live in the course root; building work units
    master       the chapter's master cells, read once from the gradebook
    execute      the work unit: grade one submission of one chapter (pure function)
    kernel_guard code run inside the kernel around test cells (tamper checks)
    sandbox      rlimits + Landlock wrapper the kernel is started through
    backends     local process pool or Dask
    batch        run a batch, writing each result as it arrives
    gradebook    the single writer: gradebook, autograded/, status table
    feedback     feedback HTML without hidden tests
    report       CSV export and the summary table
    bench        parallel engine vs plain `nbgrader autograde`
"""
