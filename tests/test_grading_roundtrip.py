"""A real nbgrader round trip per chapter: generate, submit, autograde, feedback.

For each chapter, in a scratch course root:
- the solution submitted as a student's notebook gets every automatic point;
- the untouched release notebook gets 0;
- each plausible wrong answer in tests/wrong_answers/NN_name.py gets fewer
  than full marks, and its feedback names the mistake (and shows no hidden test).
"""
import html
import re
import importlib.util
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from course import ROOT, available_chapters
from course.check import _region_lines, _strip_regions, graded_tests

CHAPTERS = available_chapters()
WRONG_DIR = ROOT / "tests" / "wrong_answers"


def wrong_answers(chapter):
    path = WRONG_DIR / f"{chapter}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"wrong_{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG_ANSWERS


def nbgrader(root, *args):
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=root, capture_output=True, text=True
    )
    assert result.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


def with_answers(nb, replacements):
    """A copy of `nb` whose answer cells (by grade_id) have new source."""
    nb = nbformat.from_dict(nb)
    found = set()
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in replacements:
            cell.source = replacements[grade_id]
            found.add(grade_id)
    missing = set(replacements) - found
    assert not missing, f"wrong answer names unknown cells: {missing}"
    return nb


def submit(root, chapter, student, nb):
    folder = root / "submitted" / student / chapter
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / f"{chapter}.ipynb")


def auto_score(root, chapter, student):
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id="cnn-course") as gb:
        notebook = gb.find_submission_notebook(chapter, chapter, student)
        return sum(g.auto_score or 0 for g in notebook.grades)


def feedback_text(root, chapter, student):
    """The feedback page as plain text (tags removed, entities decoded)."""
    page = root / "feedback" / student / chapter / f"{chapter}.html"
    return html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))


def hidden_lines(nb):
    """Lines that only hidden tests contain."""
    lines = []
    for cell in graded_tests(nb):
        visible = set(_strip_regions(cell.source).splitlines())
        lines += [
            line for line in _region_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            if line not in {v.strip() for v in visible} and len(line) > 12
        ]
    return lines


@pytest.mark.grading
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_autograde_round_trip(chapter, tmp_path):
    root = tmp_path
    shutil.copy(ROOT / "nbgrader_config.py", root)
    shutil.copytree(ROOT / "source" / chapter, root / "source" / chapter)
    nbgrader(root, "generate_assignment", chapter, "--force")

    source = nbformat.read(root / "source" / chapter / f"{chapter}.ipynb", as_version=4)
    release = nbformat.read(root / "release" / chapter / f"{chapter}.ipynb", as_version=4)
    full_marks = sum(float(c.metadata.nbgrader.points) for c in graded_tests(source))
    wrongs = wrong_answers(chapter)
    assert len(wrongs) >= 2, f"tests/wrong_answers/{chapter}.py needs at least two wrong answers"

    submit(root, chapter, "solution", source)
    submit(root, chapter, "blank", release)
    for i, wrong in enumerate(wrongs):
        submit(root, chapter, f"wrong{i}", with_answers(source, wrong["cells"]))
    nbgrader(root, "autograde", chapter, "--force")
    nbgrader(root, "generate_feedback", chapter, "--force")

    assert auto_score(root, chapter, "solution") == pytest.approx(full_marks)
    assert auto_score(root, chapter, "blank") == 0
    for i, wrong in enumerate(wrongs):
        score = auto_score(root, chapter, f"wrong{i}")
        assert score < full_marks, f"wrong answer '{wrong['name']}' got full marks ({score})"
        text = feedback_text(root, chapter, f"wrong{i}")
        assert wrong["feedback"].lower() in text.lower(), (
            f"feedback for '{wrong['name']}' does not say '{wrong['feedback']}'"
        )
        leaked = [line for line in hidden_lines(source) if line in text]
        assert not leaked, f"feedback for '{wrong['name']}' shows hidden test lines: {leaked[:3]}"
