"""nbgrader configuration for the course (the repository root is the course root).

Everything nbgrader and the `autograde` engine read lives here, so an
instructor changes grading behaviour in one place.
"""
import os
import sys

# Let nbgrader find our own preprocessors (helpers/, autograde/) when it is run
# as a console script from the course root.
_root = os.path.dirname(os.path.abspath(__file__))
if _root not in sys.path:
    sys.path.insert(0, _root)

from autograde import venv_tools_on_path  # noqa: E402 - needs the root on sys.path

venv_tools_on_path()   # nbgrader runs `alembic` by name

c = get_config()  # noqa: F821 (provided by traitlets when it loads this file)

c.CourseDirectory.course_id = "cnn-course"
c.CourseDirectory.root = _root
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_root, "gradebook.db")

# Student code runs under a time limit per cell; a cell that ignores SIGINT is
# killed shortly after.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Graded test cells run in the judge (the grader's own process), never in the
# student's kernel: their points cannot be shaped by student code (docs/grading.md).
c.Autograde.autograde_preprocessors = [
    "autograde.judge.JudgedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograde.execute.SanitizeOutputs",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# A test cell the student deleted comes back at autograde time.
c.OverwriteCells.add_missing_cells = True

# A grade depends on whether a test raised, not on text printed to stderr:
# without this, any warning (from torch, say) scores a correct answer 0.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"[\s\S]"

# Feedback shows which test failed and why, never the hidden test code: not in
# the test cells (ClearHiddenTests), nor quoted in tracebacks (RedactHiddenTests).
# Sanitised too: no script in a student's answer or output runs in a browser.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograde.execute.SanitizeOutputs",
    "autograde.feedback.RedactHiddenTests",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
