"""Scratch course roots for the autograde tests.

`released_course(dest, chapters)` copies the repository's nbgrader_config.py
and the chapters' source/ folders (the fixture chapters from
tests/hostile/course/source, or real ones from source/) into `dest`, and runs
nbgrader's generate_assignment there, which fills dest/gradebook.db with the
master cells. Nothing is written in the repository.
"""
import hashlib
import shutil
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
FIXTURE_SOURCE = Path(__file__).resolve().parent / "course" / "source"
FIXTURE_CHAPTERS = ("ch_fixture", "ch_other")

# Short limits keep the suite fast (a correct fixture notebook runs in ~3 s).
TEST_LIMITS = dict(cell_timeout=8, notebook_timeout=30, memory_mb=5000)


def chapter_source(chapter):
    fixture = FIXTURE_SOURCE / chapter
    return fixture if fixture.is_dir() else REPO / "source" / chapter


def released_course(dest, chapters=FIXTURE_CHAPTERS):
    """A course root at `dest` with `chapters` generated (release/ and gradebook.db)."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograde.config import load_config

    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", dest / "nbgrader_config.py")
    for chapter in chapters:
        shutil.copytree(chapter_source(chapter), dest / "source" / chapter, dirs_exist_ok=True)
    config = load_config(dest)
    config.CourseDirectory.root = str(dest)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for chapter in chapters:
        result = api.generate_assignment(chapter, force=True)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {chapter} failed:\n{result.get('log')}\n"
                               f"{result.get('error')}")
    return dest


def copy_course(template, dest):
    shutil.copytree(template, dest, symlinks=True)
    return Path(dest)


def read_nb(path):
    return nbformat.read(path, as_version=4)


def source_nb(root, chapter):
    return read_nb(Path(root) / "source" / chapter / f"{chapter}.ipynb")


def release_nb(root, chapter):
    return read_nb(Path(root) / "release" / chapter / f"{chapter}.ipynb")


def submit(root, student, chapter, data):
    """Put a submission in submitted/<student>/<chapter>/<chapter>.ipynb."""
    folder = Path(root) / "submitted" / student / chapter
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{chapter}.ipynb").write_bytes(data if isinstance(data, bytes)
                                              else nbformat.writes(data).encode())


def student_snapshot(root, students, course_id="cnn-course"):
    """Everything the gradebook and autograded/ hold about `students` (to compare later)."""
    from nbgrader.api import Gradebook, MissingEntry

    snap = {}
    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}", course_id) as gb:
        for student in students:
            rows = []
            for assignment in gb.assignments:
                try:
                    sub = gb.find_submission(assignment.name, student)
                except MissingEntry:
                    continue
                rows.append((assignment.name, str(sub.timestamp)))
                for nb in sub.notebooks:
                    for grade in nb.grades:
                        rows.append((grade.name, grade.auto_score, grade.manual_score,
                                     grade.needs_manual_grade))
            files = {}
            folder = Path(root) / "autograded" / student
            for path in sorted(folder.rglob("*")) if folder.exists() else []:
                if path.is_file():
                    files[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
            snap[student] = (sorted(map(repr, rows)), files)
    return snap


def auto_score(root, student, chapter, course_id="cnn-course"):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{Path(root) / 'gradebook.db'}", course_id) as gb:
        nb = gb.find_submission_notebook(chapter, chapter, student)
        return sum(g.auto_score or 0 for g in nb.grades)
