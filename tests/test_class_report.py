"""`python -m autograde report`: the class report, read from what grading stored.

A tiny course is built here without running any kernel: a gradebook (nbgrader's
API) with one chapter of two test cells, results written by GradebookWriter as a
batch would (executed notebooks whose failed test cells hold the judge's
messages), an errored and a timed-out submission, and a student who submitted
nothing.
"""
import re

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograde import cli
from autograde.class_report import classify, collect
from autograde.execute import ERROR, GRADED, TIMEOUT, Result

CHAPTER = "01_conv"
FLIPPED = "the kernel is flipped: that is convolution, not cross-correlation"
SCRIPT = "<script>alert('pwned')</script>"
# notebook order: test_corr2d (2 points) before test_apply (1 point), not alphabetical
CELLS = [("corr2d", None), ("test_corr2d", 2), ("apply", None), ("test_apply", 1)]


def _cell(grade_id, points, outputs=()):
    test = points is not None
    meta = {"grade": test, "solution": not test, "locked": test, "grade_id": grade_id,
            "schema_version": 3}
    if test:
        meta["points"] = points
    cell = new_code_cell("check.close(corr2d(X, K), Y)" if test else "def f(): pass",
                         metadata={"nbgrader": meta})
    cell.outputs = list(outputs)
    return cell


def _error(ename, message):
    return new_output("error", ename=ename, evalue=message, traceback=message.splitlines())


def _executed(**outputs):
    """The executed notebook a worker returns: outputs per test cell's grade_id."""
    return nbformat.writes(new_notebook(cells=[_cell(g, p, outputs.get(g, ()))
                                               for g, p in CELLS]))


def _mistake(cause, first="corr2d(X, K): 2 of 4 values are wrong."):
    return [_error("CheckFailure", f"{first}\n  likely cause: {cause}\n  expected [[1]]\n  got [[2]]")]


def _course(root):
    from nbgrader.api import Gradebook

    from autograde.gradebook import GradebookWriter
    from autograde.layout import Course

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 't'\n")
    (root / "source" / CHAPTER).mkdir(parents=True)
    nbformat.write(nbformat.reads(_executed(), as_version=4),
                   root / "source" / CHAPTER / f"{CHAPTER}.ipynb")
    course = Course(root)
    with Gradebook(course.db_url, "t") as gb:
        gb.update_or_create_assignment(CHAPTER)
        gb.update_or_create_notebook(CHAPTER, CHAPTER)
        for grade_id, points in CELLS:
            if points is not None:
                gb.update_or_create_grade_cell(grade_id, CHAPTER, CHAPTER, max_score=points,
                                               cell_type="code")
            else:
                gb.update_or_create_solution_cell(grade_id, CHAPTER, CHAPTER)
            gb.update_or_create_source_cell(grade_id, CHAPTER, CHAPTER, cell_type="code",
                                            locked=points is not None, source="x", checksum="x")
        gb.update_or_create_student("gina")  # in the gradebook, never submitted
    results = [
        Result("alice", CHAPTER, GRADED, notebooks={CHAPTER: _executed()},
               timings={"total": 3.0, "execute": 2.0}),
        Result("bob", CHAPTER, GRADED, timings={"total": 9.5, "execute": 8.0}, notebooks={
            CHAPTER: _executed(test_corr2d=_mistake(FLIPPED),
                               test_apply=[_error("NotImplementedError", "NotImplementedError")])}),
        Result("carol", CHAPTER, GRADED, timings={"total": 4.0, "execute": 3.0}, notebooks={
            CHAPTER: _executed(test_corr2d=_mistake(FLIPPED, first=f"corr2d: got {SCRIPT}"))}),
        Result("dave", CHAPTER, GRADED, timings={"total": 5.0, "execute": 4.0}, notebooks={
            CHAPTER: _executed(
                test_corr2d=[_error("ForbiddenCall", "your answer called torch.nn.functional.conv2d, "
                                    "which does the work this exercise asks you to write.\n"
                                    "  in cell 3, line 2\n  instead: loop.")],
                test_apply=_mistake(f"{SCRIPT} off by one", first="apply(X): expected 3, got 2"))}),
        Result("ivy", CHAPTER, GRADED, timings={"total": 6.0, "execute": 5.0}, notebooks={
            CHAPTER: _executed(test_corr2d=[new_output("execute_result", data={"text/plain": "1.0"},
                                                       execution_count=1)])}),
        Result("erin", CHAPTER, ERROR, reason=f"the kernel died: {SCRIPT}",
               timings={"total": 1.0}),
        Result("frank", CHAPTER, TIMEOUT, reason="the notebook ran past its 600 s time limit",
               timings={"total": 600.0, "execute": 599.0, "kernel_start": 0.6}),
    ]
    with GradebookWriter(course) as writer:
        for result in results:
            writer.write(result)
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return _course(tmp_path_factory.mktemp("report") / "course")


def test_messages_are_classified_as_check_and_the_guard_write_them():
    assert classify(_mistake(FLIPPED)[0]) == ("mistakes", FLIPPED)
    dtype = _error("CheckFailure", "f: wrong dtype.\n  hint\n  likely cause of the wrong values: "
                                   "off by one")
    assert classify(dtype) == ("mistakes", "off by one")
    assert classify(_error("ForbiddenCall", "your answer called helpers.corr2d, the course's "
                                            "reference solution")) == ("forbidden", "helpers.corr2d")
    assert classify(_error("ForbiddenCall", "your answer uses F.conv2d (cell 2, line 3), which")) \
        == ("forbidden", "F.conv2d")
    assert classify(_error("CheckFailure", "f(3): expected 6, got 5")) == ("other", "CheckFailure")
    assert classify(_error("NameError", "corr2d is not defined")) == ("other", "NameError")


def test_named_mistakes_forbidden_calls_and_full_marks_per_exercise(course):
    data = collect(course, [CHAPTER])["chapters"][CHAPTER]
    corr2d, apply = data["exercises"]
    assert (corr2d.grade_id, corr2d.points, apply.grade_id, apply.points) == \
        ("test_corr2d", 2, "test_apply", 1)
    assert dict(corr2d.mistakes) == {FLIPPED: 2}
    assert dict(corr2d.forbidden) == {"torch.nn.functional.conv2d": 1}
    assert not corr2d.other
    assert dict(apply.mistakes) == {f"{SCRIPT} off by one": 1}
    assert dict(apply.other) == {"NotImplementedError": 1}
    # graded: alice, bob, carol, dave, ivy (erin and frank were not graded)
    assert sorted(corr2d.scores) == [0, 0, 0, 1, 2] and corr2d.full_marks == 1
    assert sorted(apply.scores) == [0, 0, 1, 1, 1] and apply.full_marks == 3


def _report(course, tmp_path, *extra):
    out = tmp_path / "out" / "r.html"
    code = cli.main(["--course-root", str(course.root), "report", *extra, "--out", str(out)])
    assert code == 0
    return out.read_text()


def _text(page):
    """The page's visible text, tags removed, for plain assertions."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.split("<h1>", 1)[1]))


def test_report_page(course, tmp_path, capsys):
    page = _report(course, tmp_path, CHAPTER)
    assert "r.html" in capsys.readouterr().out
    text = _text(page)
    # exercises in notebook order, with points, full-marks share and counts
    assert page.index("<h3>test_corr2d") < page.index("<h3>test_apply")
    assert "Full marks: 1 of 5 (20%)" in text and "Full marks: 3 of 5 (60%)" in text
    assert f"{FLIPPED} 2" in text
    assert "torch.nn.functional.conv2d 1" in text
    assert "NotImplementedError (not attempted) 1" in text
    assert page.count("<svg") == 2
    # errors and timeouts with reasons; slowest first
    assert "frank timeout the notebook ran past its 600 s time limit" in text
    assert "erin error the kernel died:" in text
    slowest = text.split("Slowest 5 submission(s)")[1]
    assert slowest.index("frank") < slowest.index("bob") < slowest.index("ivy")
    assert "alice" not in slowest.split("Students")[0]  # the 6th fastest of 7 is not listed
    # student x chapter
    table = text.split("Students")[-1]
    for row in ("alice 3 / 3", "bob 0 / 3", "carol 1 / 3", "dave 0 / 3", "ivy 2 / 3",
                "erin error", "frank timeout", "gina missing"):
        assert row in table
    # no live markup from a submission
    assert "<script" not in page.lower()
    assert html_escaped(SCRIPT) in page
    assert "default-src 'none'" in page


def html_escaped(s):
    import html

    return html.escape(s)


def test_default_output_and_all_chapters(course, capsys):
    assert cli.main(["--course-root", str(course.root), "report"]) == 0
    out = course.root / "reports" / f"{CHAPTER}.html"
    assert out.is_file() and str(out) in capsys.readouterr().out
    assert cli.main(["--course-root", str(course.root), "report", "01"]) == 0  # overwrites itself


def test_unknown_chapter_is_a_usage_error(course, capsys):
    assert cli.main(["--course-root", str(course.root), "report", "99_nothing"]) == 2
    assert "CHAPTER '99_nothing'" in capsys.readouterr().err


def test_a_file_that_is_not_a_report_is_never_overwritten(course, tmp_path, capsys):
    other = tmp_path / "notes.html"
    other.write_text("my notes")
    assert cli.main(["--course-root", str(course.root), "report", "--out", str(other)]) == 2
    assert "--out" in capsys.readouterr().err and other.read_text() == "my notes"


def test_a_course_without_gradebook_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert cli.main(["--course-root", str(tmp_path), "report"]) == 2
    err = capsys.readouterr().err
    assert "--course-root" in err and "no gradebook" in err
    assert not (tmp_path / "gradebook.db").exists() and not (tmp_path / "reports").exists()
