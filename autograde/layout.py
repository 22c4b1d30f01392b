"""Where things live in the course root, and how a work unit is put together.

The course root is nbgrader's: nbgrader_config.py, source/<chapter>/,
release/<chapter>/, submitted/<student>/<chapter>/, autograded/..., feedback/...,
gradebook.db. Paths come from nbgrader's own CourseDirectory, so an instructor
who changed them in nbgrader_config.py gets the same folders here.
"""
import fnmatch
import os
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.coursedir import CourseDirectory

from autograde.config import engine_from_config, load_config, plain_config
from autograde.execute import Job
from autograde.master import read_master, source_order


class ChapterNotReleased(Exception):
    pass


class Course:
    def __init__(self, root, config=None):
        self.root = Path(root).resolve()
        self.config = config if config is not None else load_config(self.root)
        self.config.CourseDirectory.root = str(self.root)
        self.coursedir = CourseDirectory(config=self.config)
        self.db_url = self.coursedir.db_url
        self.engine = engine_from_config(self.config)
        self._masters = {}

    # -- folders
    def path(self, kind, student=".", chapter="."):
        folder = getattr(self.coursedir, f"{kind}_directory")
        return Path(self.coursedir.format_path(folder, student, chapter))

    def source_chapters(self):
        folder = self.path("source")
        return sorted(p.name for p in folder.iterdir()
                      if p.is_dir() and any(p.glob("*.ipynb"))) if folder.is_dir() else []

    def gradebook_chapters(self):
        if not self._db_exists():
            return []
        with Gradebook(self.db_url, self.coursedir.course_id) as gb:
            return [a.name for a in gb.assignments]

    def _db_exists(self):
        prefix = "sqlite:///"
        return not self.db_url.startswith(prefix) or Path(self.db_url[len(prefix):]).exists()

    def submissions(self, chapters, students=None):
        """[(student, chapter)] with a submitted notebook, sorted."""
        found = []
        base = self.path("submitted")
        if not base.is_dir():
            return found
        for student_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            if students and student_dir.name not in students:
                continue
            for chapter in chapters:
                if any((student_dir / chapter).glob("*.ipynb")):
                    found.append((student_dir.name, chapter))
        return found

    def submitted_notebooks(self, student, chapter):
        folder = self.path("submitted", student, chapter)
        return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}

    def timestamp(self, student, chapter):
        return self.coursedir.get_existing_timestamp(str(self.path("submitted", student, chapter)))

    # -- the chapter's master data
    def master(self, chapter):
        """The chapter's master cells from the gradebook (read once per run)."""
        if chapter not in self._masters:
            if not self._db_exists():
                raise ChapterNotReleased(self._not_released(chapter))
            order = {}
            for nb_path in self.path("source", ".", chapter).glob("*.ipynb"):
                try:
                    order[nb_path.stem] = source_order(nbformat.read(nb_path, as_version=4))
                except Exception:  # noqa: BLE001 - order is only a hint
                    pass
            with Gradebook(self.db_url, self.coursedir.course_id) as gb:
                try:
                    self._masters[chapter] = read_master(gb, chapter, order)
                except MissingEntry:
                    raise ChapterNotReleased(self._not_released(chapter)) from None
            if not self._masters[chapter]["notebooks"]:
                raise ChapterNotReleased(self._not_released(chapter))
        return self._masters[chapter]

    def _not_released(self, chapter):
        known = ", ".join(self.gradebook_chapters()) or "none"
        return (f"chapter {chapter!r} is not in the gradebook ({self.db_url}); chapters there: "
                f"{known}. Generate it first: `python -m course release {chapter}` "
                f"(or `nbgrader generate_assignment {chapter}`).")

    def chapter_files(self, chapter, limit_mb=64):
        """The chapter's other source files (data, images, modules), as nbgrader copies them."""
        source = self.path("source", ".", chapter)
        ignore = list(self.coursedir.ignore) + ["*.ipynb"]
        files, total = {}, 0
        for dirpath, dirnames, filenames in os.walk(source):
            dirnames[:] = [d for d in dirnames if not _ignored(d, ignore)]
            for name in filenames:
                if _ignored(name, ignore):
                    continue
                path = Path(dirpath) / name
                total += path.stat().st_size
                if total > limit_mb * 2**20:
                    raise ValueError(f"source/{chapter} holds more than {limit_mb} MB of files: "
                                     f"put data under COURSE_DATA instead")
                files[str(path.relative_to(source))] = path.read_bytes()
        return files

    # -- work units
    def helpers_dir(self):
        return str((self.root / "helpers").resolve()) if (self.root / "helpers").is_dir() else ""

    def check_path(self):
        if self.engine.check_module:
            return str(Path(self.engine.check_module).resolve())
        helpers = self.helpers_dir()
        path = Path(helpers) / "check.py" if helpers else None
        return str(path) if path and path.exists() else ""

    def data_paths(self):
        paths = [os.environ.get("COURSE_DATA", ""), str(self.root / "data")]
        return [p for p in paths if p and os.path.isdir(p)]

    def job(self, student, chapter, limits):
        return Job(
            student=student, chapter=chapter,
            notebooks=self.submitted_notebooks(student, chapter),
            master=self.master(chapter),
            files=self._files_cached(chapter),
            config=plain_config(self.config),
            limits=limits,
            helpers_dir=self.helpers_dir(),
            check_path=self.check_path(),
            read_paths=self.data_paths(),
            work_dir=self.engine.work_dir,
        )

    def _files_cached(self, chapter):
        key = ("files", chapter)
        if key not in self._masters:
            self._masters[key] = self.chapter_files(chapter)
        return self._masters[key]


def _ignored(name, patterns):
    return any(fnmatch.fnmatch(name, p) for p in patterns)
