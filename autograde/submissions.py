"""Import submissions as an LMS exports them into nbgrader's submitted/<student>/<chapter>/.

Accepted (SRC is a folder or a .zip of one):

  nbgrader layout       SRC/<student>/<chapter>/<chapter>.ipynb (+ timestamp.txt)
  a folder per student  SRC/<student>/<anything>.ipynb, or a .zip inside it
                        Moodle "Download all submissions":
                        SRC/Jane Doe_123456_assignsubmission_file_/convolution.ipynb
                        -> student "jane_doe"
  a file per student    SRC/alice.ipynb, SRC/alice.zip -> student "alice"
                        Canvas "Download submissions":
                        SRC/doejane_12345_67890_01_convolution.ipynb, also with
                        _LATE_ and resubmission suffixes (-1, -2) -> student "doejane"
                        Blackboard: SRC/<assignment>_<user>_attempt_<date>_<file>.ipynb
                        -> student "<user>"

The chapter of each notebook is `--chapter` when given (recommended when SRC is
one LMS assignment's download: a notebook of another chapter is then reported
at grading time as "wrong chapter"); otherwise it is recognised from the
notebook's exercises (its nbgrader cell ids), else from its file name
("01_convolution", "01"). A student with several notebooks for one chapter
keeps the newest (resubmissions); the others are listed as skipped.
"""
import dataclasses
import json
import os
import re
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

CANVAS = re.compile(r"^(?P<student>[A-Za-z0-9]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<original>.+)$")
BLACKBOARD = re.compile(
    r"^(?P<assignment>.+?)_(?P<student>[^_]+)_attempt_\d{4}(?:-\d\d){5}(?:_(?P<original>.+))?$")
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_?$")
RESUBMISSION = re.compile(r"-\d+$")
MAX_FILE_MB, MAX_ZIP_MB = 50, 500


@dataclasses.dataclass
class Found:
    path: Path
    student: str
    original: str           # the file name the student gave it (LMS prefixes removed)
    chapter: str = ""
    sequence: int = -1      # an LMS upload number when the name has one (Canvas)


@dataclasses.dataclass
class ImportReport:
    imported: list = dataclasses.field(default_factory=list)    # (student, chapter, source)
    skipped: list = dataclasses.field(default_factory=list)     # (source, why)

    def text(self):
        lines = [f"imported {len(self.imported)} notebook(s)"
                 f" for {len({s for s, _, _ in self.imported})} student(s)"]
        for source, why in self.skipped:
            lines.append(f"  skipped {source}: {why}")
        return "\n".join(lines)


def clean_id(name, lower=False):
    """A student id safe as a folder name: letters, digits, '_', '-', '.'."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_.")
    return name.lower() if lower else name


def student_from_file(stem):
    """(student, original name) from an LMS-exported file name (no extension)."""
    for pattern in (CANVAS, BLACKBOARD):
        m = pattern.match(stem)
        if m:
            return clean_id(m["student"]), (m["original"] or stem)
    return clean_id(stem), stem


def upload_sequence(stem):
    """Canvas numbers each upload (the second number): a later upload has a larger one."""
    m = CANVAS.match(stem)
    return int(m["sid"]) if m else -1


def student_from_folder(name):
    m = MOODLE.match(name)
    if m:
        return clean_id(m["student"], lower=True)
    return clean_id(name)


def import_submissions(course, src, chapter=None, dry_run=False):
    """Copy the notebooks found in `src` into submitted/; returns an ImportReport."""
    src = Path(src)
    if not src.exists():
        raise FileNotFoundError(f"SRC {src}: no such file or folder")
    chapters = chapter_ids(course)
    if chapter and chapter not in chapters:
        raise ValueError(f"--chapter {chapter!r}: not a chapter of this course "
                         f"(known: {', '.join(sorted(chapters)) or 'none'})")
    report = ImportReport()
    with tempfile.TemporaryDirectory(prefix="ag-import-") as scratch:
        root = _unpack(src, Path(scratch) / "src") if src.suffix == ".zip" else src
        found = list(_walk(root, Path(scratch), chapters, report))
        chosen = {}
        for item in found:
            item.chapter = chapter or _detect_chapter(item, chapters)
            if not item.chapter:
                report.skipped.append((_rel(item.path, root), "cannot tell which chapter it is: "
                                                              "pass --chapter"))
                continue
            key = (item.student, item.chapter)
            if key in chosen:
                older, newer = sorted([chosen[key], item], key=_age)
                report.skipped.append((_rel(older.path, root), f"older than "
                                                               f"{_rel(newer.path, root)}"))
                chosen[key] = newer
            else:
                chosen[key] = item
        for (student, ch), item in sorted(chosen.items()):
            notebook = _notebook_name(course, ch, item)
            target = course.path("submitted", student, ch)
            if not dry_run:
                target.mkdir(parents=True, exist_ok=True)
                for old in target.glob("*.ipynb"):
                    old.unlink()
                shutil.copyfile(item.path, target / f"{notebook}.ipynb")
                stamp = item.path.parent / "timestamp.txt"
                if stamp.exists():
                    shutil.copyfile(stamp, target / "timestamp.txt")
            report.imported.append((student, ch, _rel(item.path, root)))
    return report


def chapter_ids(course):
    """{chapter: set of grade_ids} for the chapters in the gradebook or under source/."""
    ids = {}
    for ch in course.source_chapters():
        cells = set()
        for path in course.path("source", ".", ch).glob("*.ipynb"):
            try:
                cells |= _grade_ids(nbformat.read(path, as_version=4))
            except Exception:  # noqa: BLE001
                pass
        ids[ch] = cells
    for ch in course.gradebook_chapters():
        ids.setdefault(ch, set())
        try:
            ids[ch] |= {c["name"] for nb in course.master(ch)["notebooks"].values()
                        for c in nb["cells"]}
        except Exception:  # noqa: BLE001
            pass
    return ids


def _grade_ids(nb):
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if isinstance(c.metadata.get("nbgrader"), dict) and c.metadata["nbgrader"].get("grade_id")}


def _walk(root, scratch, chapters, report):
    """Found notebooks under `root`, with their student."""
    if root.is_file():
        yield from _from_file(root, None, scratch, chapters, report, root.parent)
        return
    for entry in sorted(root.iterdir()):
        if _junk(entry.name):
            continue
        if entry.is_dir():
            student = student_from_folder(entry.name)
            for path in sorted(entry.rglob("*")):
                if path.is_file() and not any(_junk(p) for p in path.relative_to(entry).parts):
                    yield from _from_file(path, student, scratch, chapters, report, root)
        else:
            yield from _from_file(entry, None, scratch, chapters, report, root)


def _from_file(path, student, scratch, chapters, report, root):
    suffix = path.suffix.lower()
    if suffix not in (".ipynb", ".zip"):
        if path.name != "timestamp.txt":
            report.skipped.append((_rel(path, root), "not a notebook or a .zip"))
        return
    if path.stat().st_size > (MAX_ZIP_MB if suffix == ".zip" else MAX_FILE_MB) * 2**20:
        report.skipped.append((_rel(path, root), "too large"))
        return
    owner, original = student_from_file(path.stem) if student is None else (student, path.stem)
    if not owner:
        report.skipped.append((_rel(path, root), "cannot tell whose it is"))
        return
    if suffix == ".zip":
        try:
            inner = _unpack(path, scratch / f"zip-{len(list(scratch.iterdir()))}")
        except (zipfile.BadZipFile, ValueError) as exc:
            report.skipped.append((_rel(path, root), f"bad zip file: {exc}"))
            return
        for member in sorted(inner.rglob("*.ipynb")):
            if not any(_junk(p) for p in member.relative_to(inner).parts):
                yield Found(member, owner, RESUBMISSION.sub("", member.stem),
                            sequence=upload_sequence(path.stem))
        return
    yield Found(path, owner, RESUBMISSION.sub("", original),
                sequence=upload_sequence(path.stem) if student is None else -1)


def _junk(name):
    return name.startswith(".") or name in ("__MACOSX", ".ipynb_checkpoints") or name.startswith("~$")


def _unpack(zip_path, dest):
    """Extract a zip safely: no absolute paths, no '..', bounded size."""
    dest.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as z:
        total = 0
        for info in z.infolist():
            name = Path(info.filename)
            if name.is_absolute() or ".." in name.parts:
                raise ValueError(f"unsafe path in zip: {info.filename}")
            total += info.file_size
            if total > MAX_ZIP_MB * 2**20:
                raise ValueError(f"more than {MAX_ZIP_MB} MB uncompressed")
        z.extractall(dest)
        for info in z.infolist():  # keep the times recorded in the zip (newest file wins)
            target = dest / info.filename
            if target.is_file():
                stamp = time.mktime(info.date_time + (0, 0, -1))
                os.utime(target, (stamp, stamp))
    return dest


def _detect_chapter(item, chapters):
    """The chapter whose exercise ids the notebook shares most, else one named in the file name."""
    try:
        ids = _grade_ids(nbformat.reads(item.path.read_text(encoding="utf-8-sig"), as_version=4))
    except (OSError, ValueError, json.JSONDecodeError, UnicodeDecodeError, Exception):  # noqa: BLE001
        ids = set()
    best = max(chapters, key=lambda ch: len(ids & chapters[ch]), default=None)
    if best and ids & chapters[best]:
        return best
    name = item.original.lower()
    for ch in sorted(chapters, key=len, reverse=True):
        if ch.lower() in name:
            return ch
    numbered = [ch for ch in chapters if re.match(r"^\d+_", ch)
                and re.search(rf"(^|[^0-9]){ch.split('_')[0]}([^0-9]|$)", name)]
    return numbered[0] if len(numbered) == 1 else ""


def _notebook_name(course, chapter, item):
    try:
        names = list(course.master(chapter)["notebooks"])
    except Exception:  # noqa: BLE001 - chapter not generated yet
        names = [p.stem for p in course.path("source", ".", chapter).glob("*.ipynb")]
    if len(names) == 1:
        return names[0]
    return item.original if item.original in names else chapter


def _age(item):
    """Order of uploads: the LMS's upload number, then the file time, then the
    resubmission suffix (x-2 after x-1 after x), then the name."""
    m = re.search(r"-(\d+)$", item.path.stem)
    return (item.sequence, item.path.stat().st_mtime, int(m[1]) if m else 0, item.path.name)


def _rel(path, root):
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return Path(path).name
