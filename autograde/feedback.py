"""Feedback pages that show which test failed and why, never the hidden test code.

`generate_feedback` runs nbgrader's GenerateFeedback converter with this chain:

    GetGrades -> SanitizeOutputs -> RedactHiddenTests -> ClearHiddenTests -> CSSHTMLHeaderPreprocessor

ClearHiddenTests removes the hidden regions from the test cells' source.
RedactHiddenTests (below) handles the outputs, where hidden code can still
appear: a traceback of a failing test cell quotes the line that failed, which
may be hidden; a student's code can print `In[...]` or inspect the caller. So:

- an error in a graded test cell is shown as its exception type and message
  only ("CheckFailure: corr2d(X, K): 2 of 4 values are wrong ... likely cause:
  the kernel is flipped"): the student sees which test failed and the
  helpers.check message, not the code;
- in every output of every cell, each line of hidden test code (12 characters
  or more) is replaced by "[hidden test]", ANSI colour codes removed first.

Submissions that could not be graded get a short page saying why instead.

To make the formgrader's "generate feedback" button do the same, add
"autograde.feedback.RedactHiddenTests" to c.GenerateFeedback.preprocessors in
nbgrader_config.py, before ClearHiddenTests.
"""
import copy
import html
import re

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader import utils as nbutils
from nbgrader.converters import GenerateFeedback
from nbgrader.preprocessors import ClearHiddenTests, GetGrades, NbGraderPreprocessor
from traitlets import Integer, Unicode

from autograde.execute import GRADED, SanitizeOutputs

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", re.S)
PLACEHOLDER = "[hidden test]"


def hidden_lines(nb, min_length=12):
    """Lines found only inside hidden-test regions of the notebook, longest first."""
    hidden, visible = set(), set()
    for cell in nb.cells:
        regions = _HIDDEN.findall(cell.source)
        for region in regions:
            hidden.update(line.strip() for line in region.splitlines())
        visible.update(line.strip() for line in _HIDDEN.sub("", cell.source).splitlines())
    return sorted((h for h in hidden - visible if len(h) >= min_length), key=len, reverse=True)


class RedactHiddenTests(NbGraderPreprocessor):
    """Remove hidden test code from outputs; errors of graded test cells become 'Type: message'."""

    placeholder = Unicode(PLACEHOLDER).tag(config=True)
    min_length = Integer(12, help="Shorter hidden lines are not redacted (too common).").tag(config=True)
    max_message = Integer(4000, help="Longest error message shown.").tag(config=True)

    def preprocess(self, nb, resources):
        self._lines = hidden_lines(nb, self.min_length)
        return super().preprocess(nb, resources)

    def redact(self, text):
        text = _ANSI.sub("", text)
        for line in self._lines:
            if line in text:
                text = text.replace(line, self.placeholder)
            escaped = html.escape(line)
            if escaped != line and escaped in text:
                text = text.replace(escaped, self.placeholder)
        return text

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type != "code":
            return cell, resources
        test_cell = nbutils.is_grade(cell) and not nbutils.is_solution(cell)
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                output.text = self.redact(output.text)
            elif kind == "error":
                message = self.redact(str(output.get("evalue", "")))[: self.max_message]
                output.evalue = message
                if test_cell:
                    output.traceback = [f"\x1b[0;31m{output.ename}\x1b[0m: {message}"]
                else:
                    output.traceback = [self.redact(line) for line in output.get("traceback", [])]
            elif kind in ("execute_result", "display_data"):
                for mime in list(output.get("data", {})):
                    value = output.data[mime]
                    if mime.startswith("text/") or mime.endswith("json"):
                        if isinstance(value, str):
                            output.data[mime] = self.redact(value)
        return cell, resources


# SanitizeHTML: no script from a student's answer or output runs in the page.
FEEDBACK_PREPROCESSORS = [GetGrades, SanitizeOutputs, RedactHiddenTests, ClearHiddenTests,
                          CSSHTMLHeaderPreprocessor]


def generate_feedback(course, chapter, student):
    """feedback/<student>/<chapter>/<notebook>.html for a graded submission."""
    config = copy.deepcopy(course.config)
    config.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
    config.GenerateFeedback.force = True
    config.CourseDirectory.assignment_id = chapter
    config.CourseDirectory.student_id = student
    coursedir = type(course.coursedir)(config=config)
    converter = GenerateFeedback(coursedir=coursedir, config=config)
    converter.start()


def error_page(course, chapter, student, status, reason):
    """A short page for a submission that could not be graded automatically."""
    folder = course.path("feedback", student, chapter)
    folder.mkdir(parents=True, exist_ok=True)
    master = course.master(chapter)
    notebooks = list(master["notebooks"]) or [chapter]
    title = "timed out" if status == "timeout" else "could not be graded automatically"
    reason = redact_reason(reason or status, master)
    page = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(chapter)}: feedback</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 2em auto">
<h1>{html.escape(chapter)}</h1>
<p>Your submission {title}.</p>
<p><b>Reason:</b> {html.escape(reason)}</p>
<p>Your instructor has been told and will look at it. Check that the notebook opens
in JupyterLab, that <i>Restart kernel and run all cells</i> finishes within a few
minutes, and that you submitted the notebook of this chapter.</p>
</body></html>
"""
    for name in notebooks:
        (folder / f"{name}.html").write_text(page)


def redact_reason(reason, master, limit=1000):
    """A reason fit to show a student: no line of hidden test code, at most `limit` chars."""
    lines = set()
    for nb in master.get("notebooks", {}).values():
        for cell in nb.get("cells", []):
            for region in _HIDDEN.findall(cell.get("source", "")):
                lines.update(line.strip() for line in region.splitlines() if len(line.strip()) >= 12)
    for line in sorted(lines, key=len, reverse=True):
        reason = reason.replace(line, PLACEHOLDER)
    return reason if len(reason) <= limit else reason[:limit] + " [...]"


def write_feedback(course, chapters, students=None, progress=True):
    """Feedback for every graded or errored submission of `chapters`; returns the count."""
    from autograde.gradebook import STATUS_FILE, StatusStore, writer_lock

    lock = writer_lock(course)  # GetGrades writes comments into the gradebook
    store = StatusStore(course.path("autograded") / STATUS_FILE)
    rows = [r for r in store.all(chapters) if not students or r["student"] in students]
    store.close()
    try:
        _write_pages(course, rows, progress)
    finally:
        lock.close()
    return len(rows)


def _write_pages(course, rows, progress):
    bar = None
    if progress and rows:
        import sys

        from tqdm import tqdm
        bar = tqdm(total=len(rows), unit="page", desc="feedback", file=sys.stderr)
    for row in rows:
        if row["status"] == GRADED:
            generate_feedback(course, row["chapter"], row["student"])
        else:
            error_page(course, row["chapter"], row["student"], row["status"], row["reason"])
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
