"""A real nbgrader round trip per chapter: generate, submit, autograde, feedback.

For each chapter, in a scratch course root:
- the solution submitted as a student's notebook gets every automatic point;
- the untouched release notebook gets 0;
- each plausible wrong answer in tests/wrong_answers/NN_name.py gets fewer
  than full marks, and its feedback names the mistake (and shows no hidden test).
"""
import html
import re
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from chapter_cells import wrong_answers
from course import ROOT, available_chapters
from course.check import _region_lines, graded_tests

CHAPTERS = available_chapters()


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


_HIDDEN_REGION = re.compile(r"#+\s*BEGIN HIDDEN TESTS.*?#+\s*END HIDDEN TESTS", re.S)


def hidden_lines(nb):
    """Lines that only hidden tests contain: a line that also appears anywhere else (a
    visible test, the prose, an answer the student may have written the same way) does
    not count as a leak."""
    visible = {line.strip() for cell in nb.cells
               for line in _HIDDEN_REGION.sub("", cell.source).splitlines()}
    lines = []
    for cell in graded_tests(nb):
        lines += [
            line for line in _region_lines(cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
            if line not in visible and len(line) > 12
        ]
    return lines


def cell_scores(root, chapter, student):
    """{test grade_id: (auto_score, max_score)} of one graded submission."""
    with Gradebook(f"sqlite:///{root / 'gradebook.db'}", course_id="cnn-course") as gb:
        notebook = gb.find_submission_notebook(chapter, chapter, student)
        return {g.name: (g.auto_score or 0, g.max_score) for g in notebook.grades}


def graded_tests_after(nb, answer_ids):
    """The graded test cell that follows each of these answer cells."""
    found, pending = set(), False
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answer_ids:
            pending = True
        elif pending and cell in graded_tests(nb):
            found.add(grade_id)
            pending = False
    return found


def packed(wrongs, size=4):
    """Wrong answers grouped into submissions that touch different answer cells, so a
    chapter's wrong answers take a few notebook runs instead of one each."""
    groups = []
    for index, wrong in enumerate(wrongs):
        cells = set(wrong["cells"])
        for group in groups:
            if len(group) < size and not cells & {c for k in group for c in wrongs[k]["cells"]}:
                group.append(index)
                break
        else:
            groups.append([index])
    return groups


def shows_its_mistake(root, chapter, student, wrong, source):
    """The wrong answer's own test lost points and the feedback names its mistake."""
    scores = cell_scores(root, chapter, student)
    lost = any(scores[t][0] < scores[t][1] for t in graded_tests_after(source, set(wrong["cells"])))
    return lost and wrong["feedback"].lower() in feedback_text(root, chapter, student).lower()


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
    groups = packed(wrongs)
    for g, group in enumerate(groups):
        cells = {k: v for i in group for k, v in wrongs[i]["cells"].items()}
        submit(root, chapter, f"wrong{g}", with_answers(source, cells))
    nbgrader(root, "autograde", chapter, "--force")
    nbgrader(root, "generate_feedback", chapter, "--force")

    assert auto_score(root, chapter, "solution") == pytest.approx(full_marks)
    assert auto_score(root, chapter, "blank") == 0
    hidden = hidden_lines(source)
    # A packed wrong answer whose test passed or whose message is missing may have been
    # masked by a neighbour's mistake: it is graded again, alone.
    alone = [i for g, group in enumerate(groups) for i in group
             if not shows_its_mistake(root, chapter, f"wrong{g}", wrongs[i], source)]
    for i in alone:
        submit(root, chapter, f"alone{i}", with_answers(source, wrongs[i]["cells"]))
    if alone:
        nbgrader(root, "autograde", chapter, "--force")
        nbgrader(root, "generate_feedback", chapter, "--force")
    for i, wrong in enumerate(wrongs):
        student = f"alone{i}" if i in alone else next(f"wrong{g}" for g, group in enumerate(groups)
                                                       if i in group)
        score = auto_score(root, chapter, student)
        assert score < full_marks, f"wrong answer '{wrong['name']}' got full marks ({score})"
        assert shows_its_mistake(root, chapter, student, wrong, source), (
            f"'{wrong['name']}': its test did not lose points, or the feedback does not say "
            f"'{wrong['feedback']}'")
        text = feedback_text(root, chapter, student)
        leaked = [line for line in hidden if line in text]
        assert not leaked, f"feedback for '{wrong['name']}' shows hidden test lines: {leaked[:3]}"
