"""Fast tests of the grading engine's parts: no notebook is executed here."""
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograde import cli, sandbox
from autograde.config import Limits, limits_from_config
from autograde.execute import _suspicious
from autograde.feedback import RedactHiddenTests, hidden_lines
from autograde.master import MasterGradebook, released_source, restore_stripped_metadata
from autograde.report import COLUMNS, write_csv
from autograde.submissions import clean_id, student_from_file, student_from_folder

# ------------------------------------------------------------------ config and CLI


def test_help_describes_every_command(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command in ("import", "grade", "feedback", "export", "run", "status", "bench"):
        assert command in text
    assert "never a\nsilent 0" in text or "never a silent 0" in text


def test_import_help_lists_the_lms_patterns(capsys):
    with pytest.raises(SystemExit):
        cli.main(["import", "--help"])
    text = capsys.readouterr().out
    for phrase in ("Canvas", "Moodle", "Blackboard", "nbgrader layout", ".zip"):
        assert phrase in text


def test_limits_from_config_and_flags():
    from traitlets.config import Config

    c = Config()
    c.Execute.timeout = 42
    c.AutogradeLimits.memory_mb = 7000
    limits = limits_from_config(c)
    assert (limits.cell_timeout, limits.memory_mb) == (42, 7000)
    assert limits_from_config(c, memory_mb=5000, cell_timeout=None).memory_mb == 5000


def test_bad_limits_name_the_flag(tmp_path, capsys):
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    code = cli.main(["--course-root", str(tmp_path), "grade", "--memory-mb", "1000"])
    err = capsys.readouterr().err
    assert code == 2 and "--memory-mb" in err and "4000" in err
    code = cli.main(["--course-root", str(tmp_path), "grade", "--cell-timeout", "0"])
    assert code == 2 and "--cell-timeout" in capsys.readouterr().err


def test_unknown_chapter_and_missing_root_are_clear(tmp_path, capsys):
    assert cli.main(["--course-root", str(tmp_path), "export"]) == 2
    assert "nbgrader_config.py" in capsys.readouterr().err
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    assert cli.main(["--course-root", str(tmp_path), "grade", "99_nothing"]) == 2
    assert "CHAPTER '99_nothing'" in capsys.readouterr().err


def test_limits_check():
    assert Limits().check().memory_mb == 6000
    with pytest.raises(ValueError, match="notebook_timeout"):
        Limits(notebook_timeout=0).check()


# ------------------------------------------------------------------ the sandbox


def _sandboxed(tmp_path, code, *extra):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    reads = []
    for p in ["/usr", "/lib", "/lib64", "/etc", "/proc", "/dev", sys.prefix, sys.base_prefix]:
        reads += ["--read", p]
    cmd = [sys.executable, sandbox.__file__, *reads, "--write", str(work), *extra, "--",
           sys.executable, "-S", "-c", code]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=work,
                          env={"PATH": "/usr/bin:/bin", "TMPDIR": str(work)})


@pytest.mark.skipif(sandbox.landlock_abi() < 1, reason="Landlock unavailable")
def test_sandbox_confines_writes_and_reads(tmp_path):
    outside = tmp_path / "outside.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("hidden")
    code = (f"import os\nopen('inside.txt', 'w').write('ok')\n"
            f"for p in [{str(outside)!r}, '/tmp/ag-sandbox-test']:\n"
            f"    try:\n        open(p, 'w'); print('WROTE', p)\n"
            f"    except PermissionError: print('denied')\n"
            f"try:\n    open({str(secret)!r}).read(); print('READ')\n"
            f"except PermissionError: print('denied read')\n")
    proc = _sandboxed(tmp_path, code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["denied", "denied", "denied", "read"]
    assert (tmp_path / "work" / "inside.txt").exists() and not outside.exists()


@pytest.mark.skipif(sandbox.landlock_abi() < 6, reason="Landlock signal scoping needs ABI 6")
def test_sandbox_cannot_signal_its_parent_or_connect(tmp_path):
    code = ("import os, socket\n"
            "try:\n    os.kill(os.getppid(), 0); print('signalled')\n"
            "except PermissionError: print('no-signal')\n"
            "try:\n    socket.create_connection(('127.0.0.1', 9), timeout=1); print('connected')\n"
            "except PermissionError: print('no-tcp')\n"
            "except OSError: print('tcp-attempted')\n")
    proc = _sandboxed(tmp_path, code)
    assert proc.stdout.split() == ["no-signal", "no-tcp"], proc.stderr


def test_sandbox_memory_limit(tmp_path):
    code = "try:\n    b = bytearray(3 * 2**30); print('allocated')\nexcept MemoryError: print('MemoryError')"
    proc = _sandboxed(tmp_path, code, "--memory-mb", "1000", "--no-landlock")
    assert proc.stdout.strip() == "MemoryError", proc.stderr


def test_sandbox_needs_a_command():
    with pytest.raises(SystemExit):
        sandbox.parse_args(["--memory-mb", "10"])


# ------------------------------------------------------------------ work unit pieces


def test_suspicious_code_is_flagged_not_plain_code():
    nb = new_notebook(cells=[new_code_cell("import sys\nsys.modules['x'] = 1\ncheck = None")])
    flags = _suspicious(nb)
    assert "sys.modules" in flags and "reassigns check/helpers" in flags
    assert _suspicious(new_notebook(cells=[new_code_cell("y = torch.zeros(3)\nout = corr2d(X, K)")])) == []


def _master():
    cells = [
        {"name": "ans", "cell_type": "code", "locked": False, "source": "def f():\n    return 1",
         "checksum": "a", "grade": False, "solution": True, "task": False, "points": None},
        {"name": "test", "cell_type": "code", "locked": True, "checksum": "b",
         "source": "assert f() == 1\n### BEGIN HIDDEN TESTS\nassert f() + 1 == 2\n### END HIDDEN TESTS",
         "grade": True, "solution": False, "task": False, "points": 2.0},
    ]
    return {"assignment": "ch", "notebooks": {"ch": {"kernelspec": None, "cells": cells}}, "hash": "x"}


def test_released_source_drops_hidden_tests():
    assert released_source(_master()["notebooks"]["ch"]["cells"][1]["source"]) == "assert f() == 1\n"


def test_stripped_metadata_is_restored_by_matching_text():
    nb = new_notebook(cells=[new_code_cell("import x"), new_code_cell("def f():\n    return 2"),
                             new_code_cell("assert f() == 1\n")])
    restored = restore_stripped_metadata(nb, _master()["notebooks"]["ch"])
    assert restored == ["test", "ans"]
    assert nb.cells[1].metadata.nbgrader.grade_id == "ans"
    assert nb.cells[2].metadata.nbgrader.points == 2.0
    assert "nbgrader" not in nb.cells[0].metadata


def test_master_gradebook_answers_nbgraders_queries():
    gb = MasterGradebook(_master())
    notebook = gb.find_notebook("ch", "ch")
    assert [c.name for c in notebook.grade_cells] == ["test"]
    assert gb.find_graded_cell("test", "ch", "ch").max_score == 2.0
    from nbgrader.api import MissingEntry

    with pytest.raises(MissingEntry):
        gb.find_source_cell("nope", "ch", "ch")


# ------------------------------------------------------------------ feedback


def test_feedback_shows_the_message_not_the_hidden_code():
    test_src = ("check.close(f(1), 2)\n### BEGIN HIDDEN TESTS\n"
                "for case in secret_cases_of_the_instructor():\n    check.close(f(case), g(case))\n"
                "### END HIDDEN TESTS")
    test = new_code_cell(test_src, metadata={"nbgrader": {
        "grade": True, "solution": False, "locked": True, "grade_id": "t", "points": 1,
        "schema_version": 3}})
    test.outputs = [
        nbformat.v4.new_output("stream", name="stdout",
                               text="for case in secret_cases_of_the_instructor():\n"),
        nbformat.v4.new_output("error", ename="CheckFailure",
                               evalue="f(3): expected 6, got 5\n  likely cause: off by one",
                               traceback=["\x1b[0;31m---\x1b[0m",
                                          "\x1b[0;32mfor\x1b[0m case in secret_cases_of_the_instructor():",
                                          "CheckFailure: f(3): expected 6, got 5"])]
    answer = new_code_cell("print(In)")
    answer.outputs = [nbformat.v4.new_output("error", ename="NameError", evalue="x",
                                             traceback=["    check.close(f(case), g(case))"])]
    nb = new_notebook(cells=[answer, test])
    assert "for case in secret_cases_of_the_instructor():" in hidden_lines(nb)
    nb, _ = RedactHiddenTests().preprocess(nb, {})
    outputs = str([cell.outputs for cell in nb.cells])
    assert "secret_cases_of_the_instructor" not in outputs
    assert "check.close(f(case), g(case))" not in outputs
    assert nb.cells[1].outputs[1].traceback == [
        "\x1b[0;31mCheckFailure\x1b[0m: f(3): expected 6, got 5\n  likely cause: off by one"]
    assert "[hidden test]" in nb.cells[1].outputs[0].text
    assert nb.cells[0].outputs[0].traceback == ["    [hidden test]"]


# ------------------------------------------------------------------ reports and import


def test_csv_has_the_agreed_columns(tmp_path):
    path = tmp_path / "g.csv"
    write_csv([{"student": "a", "chapter": "c", "score": "", "max_score": "5",
                "status": "error", "reason": "corrupt, really"}], path)
    lines = path.read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS)
    assert lines[1] == 'a,c,,5,error,"corrupt, really"'


@pytest.mark.parametrize("stem, student, original", [
    ("doejane_12345_67890_01_convolution", "doejane_12345", "01_convolution"),
    ("doejane_LATE_12345_67890_01_convolution-1", "doejane_12345", "01_convolution-1"),
    ("hw1_jdoe_attempt_2025-01-31-10-00-00_conv", "jdoe", "conv"),
    ("alice", "alice", "alice"),
    ("Bob Smith", "Bob_Smith", "Bob Smith"),
])
def test_student_from_lms_file_names(stem, student, original):
    assert student_from_file(stem) == (student, original)


def test_student_from_folders():
    assert student_from_folder("Jane Doe_123456_assignsubmission_file_") == "jane_doe_123456"
    assert student_from_folder("alice") == "alice"
    assert clean_id("../../etc") == "etc"


def _fake_course(tmp_path, chapters=("01_convolution", "02_padding_stride")):
    """A course with source notebooks (for chapter recognition) and no gradebook."""
    from autograde.layout import Course

    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    for ch, ids in zip(chapters, (["corr2d", "test_corr2d"], ["pad", "test_pad"])):
        cells = [new_code_cell("x = 1", metadata={"nbgrader": {
            "grade": False, "solution": True, "locked": False, "grade_id": ids[0],
            "schema_version": 3}})]
        folder = tmp_path / "source" / ch
        folder.mkdir(parents=True)
        nbformat.write(new_notebook(cells=cells), folder / f"{ch}.ipynb")
    return Course(tmp_path)


def _nb_bytes(grade_id):
    return nbformat.writes(new_notebook(cells=[new_markdown_cell("hi"), new_code_cell(
        "x", metadata={"nbgrader": {"grade": False, "solution": True, "locked": False,
                                    "grade_id": grade_id, "schema_version": 3}})])).encode()


def test_import_canvas_moodle_zip_and_folders(tmp_path):
    from autograde.submissions import import_submissions

    course = _fake_course(tmp_path / "course")
    src = tmp_path / "download"
    (src / "Jane Doe_123456_assignsubmission_file_").mkdir(parents=True)
    (src / "Jane Doe_123456_assignsubmission_file_" / "my work.ipynb").write_bytes(_nb_bytes("corr2d"))
    (src / "doejohn_12345_67890_01_convolution.ipynb").write_bytes(_nb_bytes("corr2d"))
    (src / "doejohn_12345_67999_01_convolution-1.ipynb").write_bytes(_nb_bytes("corr2d"))
    (src / "carol_1_2_02_padding_stride.ipynb").write_bytes(_nb_bytes("pad"))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("homework/01_convolution.ipynb", _nb_bytes("corr2d"))
        z.writestr("__MACOSX/homework/._01_convolution.ipynb", b"junk")
    (src / "dave.zip").write_bytes(buf.getvalue())
    (src / "erin").mkdir()
    (src / "erin" / "01_convolution").mkdir()
    (src / "erin" / "01_convolution" / "01_convolution.ipynb").write_bytes(b"{not json")
    (src / "notes.txt").write_text("hello")
    report = import_submissions(course, src)
    got = sorted((s, c) for s, c, _ in report.imported)
    assert got == [("carol_1", "02_padding_stride"), ("dave", "01_convolution"),
                   ("doejohn_12345", "01_convolution"), ("erin", "01_convolution"),
                   ("jane_doe_123456", "01_convolution")]
    skipped = dict(report.skipped)
    assert any("older than" in why for why in skipped.values())
    assert "notes.txt" in skipped
    assert (tmp_path / "course/submitted/jane_doe_123456/01_convolution/01_convolution.ipynb").exists()
    assert (tmp_path / "course/submitted/erin/01_convolution/01_convolution.ipynb").read_bytes() == b"{not json"


def test_import_with_chapter_files_everything_there_and_refuses_unknown(tmp_path):
    from autograde.submissions import import_submissions

    course = _fake_course(tmp_path / "course")
    src = tmp_path / "dl"
    src.mkdir()
    (src / "zed.ipynb").write_bytes(_nb_bytes("pad"))
    report = import_submissions(course, src, chapter="01_convolution")
    assert [(s, c) for s, c, _ in report.imported] == [("zed", "01_convolution")]
    with pytest.raises(ValueError, match="--chapter"):
        import_submissions(course, src, chapter="nope")
    assert Path(tmp_path / "course/submitted/zed/01_convolution/01_convolution.ipynb").exists()


def test_zip_with_unsafe_paths_is_refused(tmp_path):
    from autograde.submissions import import_submissions

    course = _fake_course(tmp_path / "course")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil.ipynb", _nb_bytes("corr2d"))
    (tmp_path / "mal.zip").write_bytes(buf.getvalue())
    src = tmp_path / "dl"
    src.mkdir()
    (src / "mallory.zip").write_bytes(buf.getvalue())
    report = import_submissions(course, src, chapter="01_convolution")
    assert not report.imported and "unsafe" in report.skipped[0][1]
    assert not (tmp_path / "evil.ipynb").exists()


def test_one_writer_at_a_time(tmp_path):
    from autograde.gradebook import writer_lock

    course = _fake_course(tmp_path / "course")
    first = writer_lock(course)
    with pytest.raises(ValueError, match="another autograde run is writing to this course"):
        writer_lock(course)
    first.close()
    writer_lock(course).close()
