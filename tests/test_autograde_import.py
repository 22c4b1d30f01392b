"""Imports that lose nobody, and a grading loop where one submission's failure stays its own.

- a student's archive or LMS folder cannot supply grader files (timestamp.txt);
- LMS participant ids are kept, so namesakes stay two students;
- two sources that would become one student id are refused, naming both;
- a bad timestamp, or any failure while saving a result, writing feedback or
  exporting, becomes that submission's error row; the others are kept.

No notebook is executed: the grading backend here returns prepared results.
"""
import csv
import io
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde import cli
from autograde.execute import ERROR, GRADED, Result
from autograde.submissions import import_submissions, student_from_folder

# ------------------------------------------------------------------ import


def _fake_course(root, chapters=("01_convolution", "02_padding_stride")):
    """A course with source notebooks (for chapter recognition) and no gradebook."""
    from autograde.layout import Course

    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\n")
    for ch, grade_id in zip(chapters, ("corr2d", "pad")):
        folder = root / "source" / ch
        folder.mkdir(parents=True)
        nbformat.write(new_notebook(cells=[_solution(grade_id)]), folder / f"{ch}.ipynb")
    return Course(root)


def _solution(grade_id):
    return new_code_cell("x = 1", metadata={"nbgrader": {
        "grade": False, "solution": True, "locked": False, "grade_id": grade_id,
        "schema_version": 3}})


def _nb_bytes(grade_id="corr2d"):
    return nbformat.writes(new_notebook(cells=[new_markdown_cell("hi"), _solution(grade_id)])).encode()


def _zip(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def _submitted(root):
    return sorted(str(p.relative_to(root / "submitted")) for p in (root / "submitted").rglob("*")
                  if p.is_file())


def test_student_archives_and_lms_folders_cannot_supply_a_timestamp(tmp_path):
    course = _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    moodle = src / "Jane Doe_101_assignsubmission_file_"
    moodle.mkdir(parents=True)
    (moodle / "conv.ipynb").write_bytes(_nb_bytes())
    (moodle / "timestamp.txt").write_text("2000-01-01 00:00:00")     # "submitted long ago"
    (src / "dave.zip").write_bytes(_zip({
        "01_convolution/01_convolution.ipynb": _nb_bytes(),
        "01_convolution/timestamp.txt": "2000-01-01 00:00:00"}))
    (src / "erin").mkdir()
    (src / "erin" / "work.zip").write_bytes(_zip({
        "01_convolution/01_convolution.ipynb": _nb_bytes(),
        "01_convolution/timestamp.txt": "2000-01-01 00:00:00"}))
    report = import_submissions(course, src, chapter="01_convolution")
    assert len(report.imported) == 3
    assert not list((tmp_path / "course" / "submitted").rglob("timestamp.txt")), \
        _submitted(tmp_path / "course")


def test_nbgrader_layout_keeps_a_valid_timestamp_and_refuses_a_bad_one(tmp_path):
    course = _fake_course(tmp_path / "course")
    src = tmp_path / "collected"
    stamps = {"alice": "2025-01-31 10:00:00.000000 UTC", "bob": "yesterday, honest",
              "carol": "9" * 40, "dan": "2025-01-31 10:00:00 " + "9" * 30,
              "erin": "2999-01-01 00:00:00"}
    for student, stamp in stamps.items():
        folder = src / student / "01_convolution"
        folder.mkdir(parents=True)
        (folder / "01_convolution.ipynb").write_bytes(_nb_bytes())
        (folder / "timestamp.txt").write_text(stamp)
    report = import_submissions(course, src)
    assert sorted(s for s, _, _ in report.imported) == sorted(stamps)
    kept = [p.parent.parent.name for p in (tmp_path / "course/submitted").rglob("timestamp.txt")]
    assert kept == ["alice"]
    ignored = " ".join(f"{source}: {why}" for source, why in report.skipped)
    for student in ("bob", "carol", "dan", "erin"):
        assert f"{student}/01_convolution/timestamp.txt" in ignored, ignored


def test_importing_again_removes_a_timestamp_that_no_longer_comes_with_it(tmp_path):
    course = _fake_course(tmp_path / "course")
    old = tmp_path / "course" / "submitted" / "alice" / "01_convolution"
    old.mkdir(parents=True)
    (old / "01_convolution.ipynb").write_bytes(_nb_bytes())
    (old / "timestamp.txt").write_text("2025-01-01 00:00:00")
    src = tmp_path / "dl"
    src.mkdir()
    (src / "alice.ipynb").write_bytes(_nb_bytes())
    import_submissions(course, src, chapter="01_convolution")
    assert not (old / "timestamp.txt").exists()


def test_moodle_namesakes_and_accents_stay_separate_students(tmp_path):
    course = _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    for folder in ("Jane Doe_101_assignsubmission_file_", "Jane Doe_102_assignsubmission_file_",
                   "Zoë Müller_201_assignsubmission_file_", "Zoé Müller_202_assignsubmission_file_"):
        (src / folder).mkdir(parents=True)
        (src / folder / "conv.ipynb").write_bytes(_nb_bytes())
    report = import_submissions(course, src, chapter="01_convolution")
    assert sorted(s for s, _, _ in report.imported) == [
        "jane_doe_101", "jane_doe_102", "zoe_muller_201", "zoe_muller_202"]
    assert not report.skipped


def test_moodle_flat_files_and_canvas_namesakes(tmp_path):
    course = _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    src.mkdir()
    (src / "Jane Doe_101_assignsubmission_file_conv.ipynb").write_bytes(_nb_bytes())
    (src / "doejane_111_900_01_convolution.ipynb").write_bytes(_nb_bytes())
    (src / "doejane_222_901_01_convolution.ipynb").write_bytes(_nb_bytes())
    (src / "doejane_LATE_222_950_01_convolution-1.ipynb").write_bytes(_nb_bytes())   # a resubmission
    report = import_submissions(course, src, chapter="01_convolution")
    assert sorted(s for s, _, _ in report.imported) == ["doejane_111", "doejane_222", "jane_doe_101"]
    assert dict((s, source) for s, _, source in report.imported)["doejane_222"] == \
        "doejane_LATE_222_950_01_convolution-1.ipynb"
    assert [why for _, why in report.skipped] == ["older than doejane_LATE_222_950_01_convolution-1.ipynb"]


@pytest.mark.parametrize("stem, student, original", [
    ("doejane_12345_67890_01_convolution", "doejane_12345", "01_convolution"),
    ("doejane_LATE_12345_67890_01_convolution-1", "doejane_12345", "01_convolution-1"),
    ("garcíajosé_12345_67890_conv", "garciajose_12345", "conv"),
    ("hw1_jdoe_attempt_2025-01-31-10-00-00_conv", "jdoe", "conv"),
    ("Jane Doe_123456_assignsubmission_file_my work", "jane_doe_123456", "my work"),
    ("alice", "alice", "alice"),
])
def test_lms_file_names_keep_the_participant_id(stem, student, original):
    from autograde.submissions import identify_file

    assert identify_file(stem)[0::2] == (student, original)


def test_moodle_folder_keeps_the_participant_id():
    assert student_from_folder("Jane Doe_123456_assignsubmission_file_") == "jane_doe_123456"
    assert student_from_folder("Renée O'Brien_7_assignsubmission_onlinetext_") == "renee_o_brien_7"


@pytest.mark.parametrize("names", [
    ("hw1_jane_doe_attempt_2025-01-31-10-00-00_conv.ipynb",          # Blackboard logins with '_'
     "hw1_john_doe_attempt_2025-01-31-11-00-00_conv.ipynb"),
    ("José/conv.ipynb", "Jose/conv.ipynb"),                          # folders differing by an accent
    ("Alice.ipynb", "alice/conv.ipynb"),                             # by case only
])
def test_two_sources_for_one_student_id_are_refused_naming_both(tmp_path, names):
    course = _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    for name in names:
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(_nb_bytes())
    with pytest.raises(ValueError) as caught:
        import_submissions(course, src, chapter="01_convolution")
    message = str(caught.value)
    for name in names:
        assert name.split("/")[0] in message, message
    assert not (tmp_path / "course" / "submitted").exists()


def test_cli_import_refuses_a_collision_with_exit_status_2(tmp_path, capsys):
    _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    for name in ("José", "Jose"):
        (src / name).mkdir(parents=True)
        (src / name / "conv.ipynb").write_bytes(_nb_bytes())
    code = cli.main(["--course-root", str(tmp_path / "course"), "import", str(src),
                     "--chapter", "01_convolution"])
    assert code == 2
    assert "José" in capsys.readouterr().err


# ------------------------------------------------------------------ grading loop

CHAPTER = "ch"


def _graded_course(root, students=("alice", "bob", "carol")):
    """A course whose gradebook has one chapter (one notebook, one test cell worth 1 point),
    and a submission per student."""
    from nbgrader.api import Gradebook

    from autograde.layout import Course

    root.mkdir(parents=True)
    (root / "nbgrader_config.py").write_text("c = get_config()\nc.CourseDirectory.course_id = 't'\n")
    course = Course(root)
    with Gradebook(course.db_url, "t") as gb:
        gb.update_or_create_assignment(CHAPTER)
        gb.update_or_create_notebook(CHAPTER, CHAPTER)
        gb.update_or_create_grade_cell("test_a", CHAPTER, CHAPTER, max_score=1, cell_type="code")
        gb.update_or_create_source_cell("test_a", CHAPTER, CHAPTER, cell_type="code", locked=True,
                                        source="assert True", checksum="x")
    for student in students:
        folder = root / "submitted" / student / CHAPTER
        folder.mkdir(parents=True)
        (folder / f"{CHAPTER}.ipynb").write_text(nbformat.writes(new_notebook()))
    return course


def _executed_nb():
    cell = new_code_cell("assert True", metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "test_a", "points": 1,
        "schema_version": 3}})
    return nbformat.writes(new_notebook(cells=[cell]))


class FakeBackend:
    """Returns a graded result for each job, as a worker would, without running anything."""

    def run(self, jobs):
        for job in jobs:
            yield Result(job.student, job.chapter, GRADED, notebooks={CHAPTER: _executed_nb()},
                         scores={CHAPTER: {"test_a": [1.0, 1.0]}}, input_hash=job.input_hash())

    def close(self, kill=False):
        pass


def _batch(course, backend=None):
    from autograde.batch import run_batch
    from autograde.config import Limits

    return run_batch(course, [CHAPTER], Limits(), backend or FakeBackend(), progress=False)


def _status(course):
    from autograde.gradebook import STATUS_FILE, StatusStore

    store = StatusStore(course.path("autograded") / STATUS_FILE)
    try:
        return {r["student"]: r for r in store.all()}
    finally:
        store.close()


@pytest.mark.parametrize("stamp", ["garbage", "9" * 40, "2025-01-31 10:00:00 " + "9" * 30,
                                   "2999-01-01 00:00:00", "x" * 5000])
def test_a_bad_timestamp_is_that_submissions_error_and_the_others_are_saved(tmp_path, stamp):
    course = _graded_course(tmp_path / "course")
    (tmp_path / "course/submitted/bob" / CHAPTER / "timestamp.txt").write_text(stamp)
    report = _batch(course)
    status = _status(course)
    assert {s: r["status"] for s, r in status.items()} == {
        "alice": GRADED, "bob": ERROR, "carol": GRADED}
    assert "submitted/bob/ch/timestamp.txt" in status["bob"]["reason"]
    assert status["alice"]["auto_score"] == 1
    assert (tmp_path / "course/autograded/carol" / CHAPTER / f"{CHAPTER}.ipynb").exists()
    assert {r.student: r.status for r in report.results}["bob"] == ERROR
    # once the file is fixed, the same command grades bob (and only him)
    (tmp_path / "course/submitted/bob" / CHAPTER / "timestamp.txt").write_text("2025-01-31 10:00:00")
    again = _batch(course)
    assert [(r.student, r.status) for r in again.results] == [("bob", GRADED)]


def test_a_failure_while_saving_one_result_is_its_error_row(tmp_path, monkeypatch):
    from autograde.gradebook import GradebookWriter

    course = _graded_course(tmp_path / "course")
    original = GradebookWriter._write

    def flaky(self, result, started):
        if result.student == "bob":
            raise OSError("disk full")
        return original(self, result, started)

    monkeypatch.setattr(GradebookWriter, "_write", flaky)
    _batch(course)
    status = _status(course)
    assert {s: r["status"] for s, r in status.items()} == {
        "alice": GRADED, "bob": ERROR, "carol": GRADED}
    assert "bob" in status["bob"]["reason"] and "disk full" in status["bob"]["reason"]


def test_a_submission_that_cannot_be_read_is_its_error_row(tmp_path):
    course = _graded_course(tmp_path / "course")
    (tmp_path / "course/submitted/bob" / CHAPTER / f"{CHAPTER}.ipynb").unlink()
    (tmp_path / "course/submitted/bob" / CHAPTER / f"{CHAPTER}.ipynb").mkdir()   # not a file
    report = _batch(course)
    status = _status(course)
    assert {s: r["status"] for s, r in status.items()} == {
        "alice": GRADED, "bob": ERROR, "carol": GRADED}
    assert "bob" in status["bob"]["reason"]
    assert ("bob", ERROR) in [(r.student, r.status) for r in report.results]


def test_a_backend_that_breaks_leaves_every_submission_accounted_for(tmp_path):
    course = _graded_course(tmp_path / "course")

    class Breaks(FakeBackend):
        def run(self, jobs):
            jobs = list(jobs)
            yield from super().run(jobs[:1])
            raise RuntimeError("scheduler lost")

    report = _batch(course, Breaks())
    status = _status(course)
    assert {s: r["status"] for s, r in status.items()} == {
        "alice": GRADED, "bob": ERROR, "carol": ERROR}
    assert "scheduler lost" in status["carol"]["reason"]
    assert len(report.results) == 3
    again = _batch(course)   # the same command later grades the rest
    assert sorted(r.student for r in again.results) == ["bob", "carol"]


def test_feedback_and_export_go_on_past_one_failing_submission(tmp_path, monkeypatch, capsys):
    import autograde.feedback
    from autograde.gradebook import GradebookWriter

    course = _graded_course(tmp_path / "course")
    _batch(course)

    def fake_feedback(course, chapter, student):
        if student == "bob":
            raise RuntimeError("nbconvert exploded")
        folder = course.path("feedback", student, chapter)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{chapter}.html").write_text("ok")

    monkeypatch.setattr(autograde.feedback, "generate_feedback", fake_feedback)
    root = str(tmp_path / "course")
    assert cli.main(["--course-root", root, "-q", "feedback"]) == 1
    err = capsys.readouterr().err
    assert "bob/ch" in err and "nbconvert exploded" in err
    assert (tmp_path / "course/feedback/alice/ch/ch.html").exists()
    assert (tmp_path / "course/feedback/carol/ch/ch.html").exists()

    original = GradebookWriter.score

    def broken_score(self, student, chapter):
        if student == "bob":
            raise RuntimeError("gradebook row damaged")
        return original(self, student, chapter)

    monkeypatch.setattr(GradebookWriter, "score", broken_score)
    out = tmp_path / "grades.csv"
    cli.main(["--course-root", root, "export", "-o", str(out)])
    rows = {r["student"]: r for r in csv.DictReader(out.open())}
    assert rows["alice"]["status"] == GRADED and rows["alice"]["score"] == "1"
    assert rows["carol"]["status"] == GRADED
    assert rows["bob"]["status"] == ERROR and rows["bob"]["score"] == ""
    assert "bob" in rows["bob"]["reason"] and "gradebook row damaged" in rows["bob"]["reason"]
