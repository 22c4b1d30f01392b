"""The progress table: what each exercise's visible tests said, read back from the notebook."""
import json

import pytest

from helpers import progress


def _notebook(*tests):
    cells = [{"cell_type": "markdown", "metadata": {}, "source": "# Chapter"}]
    for grade_id, source in tests:
        cells.append({"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": grade_id,
                                                                      "points": 2, "solution": False}},
                      "source": source, "outputs": []})
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


@pytest.fixture(autouse=True)
def fresh_outcomes(monkeypatch):
    monkeypatch.setattr(progress, "_outcomes", {})
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("AUTOGRADE_ISOLATED", raising=False)


def test_each_outcome_is_read_back_by_the_cell_source():
    from helpers.check import CheckFailure

    nb = _notebook(("test_a", "check_a()"), ("test_b", ["check_b(\n", ")"]), ("test_c", "check_c()"),
                   ("test_d", "check_d()"))
    progress.record("check_a()\n", None)           # trailing whitespace does not matter
    progress.record("check_b(\n)", CheckFailure("b(X): 2 of 4 values are wrong.\n"
                                                "  likely cause: the kernel is flipped"))
    progress.record("check_c()", NotImplementedError("replace this line with your code"))
    assert progress.rows(nb) == [
        ("a", 2, "passed", ""),
        ("b", 2, "failed", "b(X): 2 of 4 values are wrong. (likely cause: the kernel is flipped)"),
        ("c", 2, "not done", "NotImplementedError: replace this line with your code"),
        ("d", 2, "not run", ""),
    ]
    text = repr(progress._Table(progress.rows(nb)))
    assert text.splitlines()[0].startswith("1 of 4 exercises pass their visible tests")
    assert "✗ b" in text and "likely cause: the kernel is flipped" in text


def test_a_later_run_replaces_an_earlier_one():
    nb = _notebook(("test_a", "check_a()"))
    progress.record("check_a()", AssertionError("wrong"))
    progress.record("check_a()", None)
    assert progress.rows(nb) == [("a", 2, "passed", "")]


def test_html_escapes_messages():
    progress.record("t()", AssertionError("<script>alert(1)</script>"))
    html = progress._Table(progress.rows(_notebook(("test_t", "t()"))))._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_show_finds_the_chapter_notebook_in_the_working_folder(tmp_path, monkeypatch):
    (tmp_path / "01_chapter.ipynb").write_text(json.dumps(_notebook(("test_a", "a()"))))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    assert "0 of 1 exercises pass" in repr(progress.show())
    with pytest.raises(FileNotFoundError, match="notebook: no such file"):
        progress.show("missing.ipynb")


def test_while_graded_it_points_to_the_feedback(capsys, monkeypatch):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert progress.show() is None
    assert "being graded" in capsys.readouterr().out


def test_an_ipython_shell_records_every_cell():
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    progress.install()
    progress.install()   # twice: still one hook
    hooks = [cb for cb in shell.events.callbacks["post_run_cell"] if cb.__name__ == "_post_run_cell"]
    assert len(hooks) == 1
    shell.run_cell("x = 1")
    shell.run_cell("undefined_name_here")
    nb = _notebook(("test_x", "x = 1"), ("test_y", "undefined_name_here"))
    assert [row[2] for row in progress.rows(nb)] == ["passed", "not done"]
