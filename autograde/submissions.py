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

Student ids keep the LMS's participant id (Moodle, Canvas), so two students
with the same name stay two students. Two different sources that would still
become one id (logins cut at an underscore, folder names that differ only by
accents or case) are refused with a message naming both: never merged.

Only the notebook is copied. timestamp.txt is a grader file: it is taken only
from nbgrader's own layout directly in SRC (SRC/<student>/<chapter>/), never
from a student's zip or an LMS submission folder (the student chose their
contents), and only when it holds a plausible time.
"""
import dataclasses
import datetime
import json
import os
import re
import shutil
import tempfile
import time
import unicodedata
import zipfile
from pathlib import Path

import nbformat

# Canvas: <sortable name>[_LATE]_<user id>_<attachment id>_<file>; the name is not unique
CANVAS = re.compile(r"^(?P<student>[^_]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<original>.+)$")
# Blackboard: <assignment>_<login>_attempt_<date>[_<file>]; a login with '_' is ambiguous
BLACKBOARD = re.compile(
    r"^(?P<who>(?P<assignment>.+?)_(?P<student>[^_]+))_attempt_\d{4}(?:-\d\d){5}(?:_(?P<original>.+))?$")
# Moodle: <full name>_<participant id>_assignsubmission_<plugin>_, a folder or a file prefix
MOODLE = re.compile(r"^(?P<student>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_?$")
MOODLE_FILE = re.compile(r"^(?P<student>.+?)_(?P<pid>\d+)_assignsubmission_[a-z]+_(?P<original>.+)$")
RESUBMISSION = re.compile(r"-\d+$")
MAX_FILE_MB, MAX_ZIP_MB = 50, 500
TIMESTAMP = "timestamp.txt"
MAX_TIMESTAMP_BYTES = 100


@dataclasses.dataclass
class Found:
    path: Path
    student: str
    original: str           # the file name the student gave it (LMS prefixes removed)
    chapter: str = ""
    sequence: int = -1      # an LMS upload number when the name has one (Canvas)
    source: str = ""        # who it is according to SRC (folder name, LMS name and id)
    timestamp: Path = None  # a timestamp.txt from nbgrader's layout (the grader's, not the student's)


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
    """A student id safe as a folder name: letters, digits, '_', '-', '.'.
    Accents are dropped ("Zoë" -> "Zoe") rather than turned into '_'."""
    name = unicodedata.normalize("NFKD", name)
    name = "".join(ch for ch in name if not unicodedata.combining(ch))
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", name.strip()).strip("_.")
    return name.lower() if lower else name


def _with_id(name, participant, lower=False):
    """A name plus the LMS's participant id: namesakes stay two students."""
    return "_".join(filter(None, [clean_id(name, lower), participant]))


def identify_file(stem):
    """(student, source, original name) from an LMS-exported file name (no extension).
    `source` is who the LMS says it is: two files with one student id and two
    sources are two people."""
    m = MOODLE_FILE.match(stem)
    if m:
        return _with_id(m["student"], m["pid"], lower=True), f"{m['student']}_{m['pid']}", m["original"]
    m = CANVAS.match(stem)
    if m:
        return _with_id(m["student"], m["uid"]), f"{m['student']}_{m['uid']}", m["original"]
    m = BLACKBOARD.match(stem)
    if m:
        return clean_id(m["student"]), m["who"], m["original"] or stem
    return clean_id(stem), stem, stem


def student_from_file(stem):
    """(student, original name) from an LMS-exported file name (no extension)."""
    student, _, original = identify_file(stem)
    return student, original


def upload_sequence(stem):
    """Canvas numbers each upload (the second number): a later upload has a larger one."""
    m = CANVAS.match(stem)
    return int(m["sid"]) if m else -1


def student_from_folder(name):
    m = MOODLE.match(name)
    if m:
        return _with_id(m["student"], m["pid"], lower=True)
    return clean_id(name)


def read_timestamp(path, label=None):
    """The time in a timestamp.txt, as nbgrader reads it (naive UTC), None when empty.
    Raises ValueError naming the file (`label`, else its path) and what was
    expected when it is not a plausible submission time (garbage, huge, in the future)."""
    from nbgrader.utils import parse_utc

    path = Path(path)
    label = label or str(path)
    expected = "expected a time like '2025-01-31 10:00:00.000000 UTC'"
    data = path.read_bytes()
    if len(data) > MAX_TIMESTAMP_BYTES:
        raise ValueError(f"{label}: {len(data)} bytes, not a time ({expected})")
    text = data.decode("utf-8", errors="replace").strip()
    if not text:
        return None
    # a time zone name is looked up as a file by dateutil: allow only plain words
    if not re.fullmatch(r"[\w :.+/-]+", text, re.ASCII) or ".." in text:
        raise ValueError(f"{label}: {text!r} is not a time ({expected})")
    try:
        when = parse_utc(text)
    except Exception as exc:  # noqa: BLE001 - dateutil raises ValueError, OverflowError, ...
        raise ValueError(f"{label}: {text!r} is not a time ({expected}; "
                         f"{type(exc).__name__}: {exc})") from None
    now = datetime.datetime.utcnow()
    if not datetime.datetime(1970, 1, 1) <= when <= now + datetime.timedelta(days=1):
        raise ValueError(f"{label}: {text!r} is not a plausible submission time "
                         f"(it is {'in the future' if when > now else 'before 1970'})")
    return when


def import_submissions(course, src, chapter=None, dry_run=False):
    """Copy the notebooks found in `src` into submitted/; returns an ImportReport.
    Raises ValueError, before copying anything, when two different sources would
    become one student id."""
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
        _refuse_collisions(found, root)
        chosen = _choose(found, chapter, chapters, root, report)
        for (student, ch), item in sorted(chosen.items()):
            stamp = _trusted_timestamp(item, root, report)
            if not dry_run:
                _place(course, student, ch, _notebook_name(course, ch, item), item.path, stamp)
            report.imported.append((student, ch, _rel(item.path, root)))
    return report


def _refuse_collisions(found, root):
    """Two sources (people, as SRC names them) that would become one student id are
    an error: keeping one would drop the other's work without a word. Ids that
    differ only in case count as one (one folder on some disks, one LMS row)."""
    groups = {}
    for item in found:
        groups.setdefault(item.student.lower(), {}).setdefault(item.source, item)
    clashes = [" and ".join(f"{_rel(i.path, root)!r} (student {i.student!r})" for i in sources.values())
               for sources in groups.values() if len(sources) > 1]
    if clashes:
        raise ValueError(
            "different students would be imported as one (nothing was imported):\n  "
            + "\n  ".join(clashes)
            + "\nRename one of each in SRC so that their names differ (for example "
              "add the LMS's user id), then import again.")


def _choose(found, chapter, chapters, root, report):
    """{(student, chapter): item}: each notebook's chapter, and the newest of a student's uploads."""
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
            report.skipped.append((_rel(older.path, root), f"older than {_rel(newer.path, root)}"))
            chosen[key] = newer
        else:
            chosen[key] = item
    return chosen


def _trusted_timestamp(item, root, report):
    """The item's timestamp.txt when it has one from nbgrader's layout and it holds a
    plausible time; a bad one is listed as ignored (the submission is imported)."""
    if item.timestamp is None:
        return None
    label = _rel(item.timestamp, root)
    try:
        return item.timestamp if read_timestamp(item.timestamp, label) else None
    except (OSError, ValueError) as exc:
        report.skipped.append((label, "ignored: " + str(exc).removeprefix(f"{label}: ")))
        return None


def _place(course, student, chapter, notebook, path, stamp):
    """submitted/<student>/<chapter>/: this notebook, and timestamp.txt only when trusted.
    What an earlier import left there (notebooks, a timestamp) is replaced."""
    target = course.path("submitted", student, chapter)
    target.mkdir(parents=True, exist_ok=True)
    for old in [*target.glob("*.ipynb"), target / TIMESTAMP]:
        if old.is_file() or old.is_symlink():
            old.unlink()
    shutil.copyfile(path, target / f"{notebook}.ipynb")
    if stamp is not None:
        shutil.copyfile(stamp, target / TIMESTAMP)


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
        yield from _from_file(root, None, "", scratch, report, root.parent)
        return
    for entry in sorted(root.iterdir()):
        if _junk(entry.name):
            continue
        if entry.is_dir():
            yield from _walk_folder(entry, root, scratch, chapters, report)
        else:
            yield from _from_file(entry, None, "", scratch, report, root)


def _walk_folder(entry, root, scratch, chapters, report):
    """A folder per student: an LMS submission folder, or nbgrader's layout."""
    student, source = identify_folder(entry.name)
    lms = MOODLE.match(entry.name) is not None
    for path in sorted(entry.rglob("*")):
        if not path.is_file() or any(_junk(p) for p in path.relative_to(entry).parts):
            continue
        layout = not lms and path.parent.parent == entry and path.parent.name in chapters
        if layout and path.name == TIMESTAMP:
            continue  # read with the notebook beside it
        for item in _from_file(path, student, source, scratch, report, root):
            stamp = path.parent / TIMESTAMP
            if layout and item.path == path and stamp.is_file():
                item.timestamp = stamp  # never from inside a zip: the student made that
            yield item


def identify_folder(name):
    """(student, source) for a folder per student (Moodle's keep the participant id)."""
    m = MOODLE.match(name)
    if m:
        return _with_id(m["student"], m["pid"], lower=True), f"{m['student']}_{m['pid']}"
    return clean_id(name), name


def _from_file(path, student, source, scratch, report, root):
    suffix = path.suffix.lower()
    if suffix not in (".ipynb", ".zip"):
        why = ("a grader file: used only in nbgrader's layout, SRC/<student>/<chapter>/"
               if path.name == TIMESTAMP else "not a notebook or a .zip")
        report.skipped.append((_rel(path, root), why))
        return
    if path.stat().st_size > (MAX_ZIP_MB if suffix == ".zip" else MAX_FILE_MB) * 2**20:
        report.skipped.append((_rel(path, root), "too large"))
        return
    if student is None:
        owner, source, original = identify_file(path.stem)
    else:
        owner, original = student, path.stem
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
                            sequence=upload_sequence(path.stem), source=source)
        return
    yield Found(path, owner, RESUBMISSION.sub("", original),
                sequence=upload_sequence(path.stem) if student is None else -1, source=source)


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
