"""The grading engine on the course's real chapters: the solution gets every automatic
point, the untouched release notebook gets 0 (under the engine's sandbox and limits).

Chapter 1 by default; AUTOGRADE_ALL_CHAPTERS=1 tries every chapter in source/. A
training chapter (8) also meets the hostile suite's attacks on the judge.
"""
import os

import pytest

from autograde.backends import LocalBackend
from autograde.batch import run_batch
from autograde.config import limits_from_config
from autograde.layout import Course
from chapter_cells import wrong_answers
from hostile.fixtures import answer_ids, build_cases
from hostile.harness import REPO, auto_score, release_nb, released_course, source_nb, submit

_ALL = sorted(p.parent.name for p in (REPO / "source").glob("*/*.ipynb")
              if p.stem == p.parent.name)
CHAPTERS = _ALL if os.environ.get("AUTOGRADE_ALL_CHAPTERS") else \
    [ch for ch in ("01_convolution",) if ch in _ALL]


def graded(root, chapter, cases):
    """Submit each case as a student, grade them all with 2 workers: {student: result}."""
    for name, case in cases.items():
        submit(root, name, chapter, case.data)
    course = Course(root)
    limits = limits_from_config(course.config, notebook_timeout=300, memory_mb=6000)
    backend = LocalBackend(2)
    try:
        report = run_batch(course, [chapter], limits, backend, progress=False)
    finally:
        backend.close()
    return {r.student: r for r in report.results}


@pytest.mark.grading
@pytest.mark.xdist_group("autograde")
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_real_chapter_correct_and_blank(chapter, tmp_path):
    root = released_course(tmp_path / "course", [chapter])
    cases = build_cases(source_nb(root, chapter), release_nb(root, chapter), full_set=False)
    results = graded(root, chapter, cases)
    for name, case in cases.items():
        r = results[name]
        assert (r.status, r.auto_score) == (case.expect.status, case.expect.auto_score), \
            f"{name}: {r.status} {r.auto_score} ({r.reason})"
        assert auto_score(root, name, chapter) == pytest.approx(case.expect.auto_score)


TRAINING_CHAPTER = "08_gpu_training"      # the quickest chapter that trains a model
ATTACKS = ("wrong", "test_edited", "monkeypatch_check", "input_transformer", "display_score",
           "trace_rewrite", "post_run_event", "tensor_subclass", "callable_patch")


@pytest.mark.grading
@pytest.mark.xdist_group("autograde")
@pytest.mark.skipif(TRAINING_CHAPTER not in _ALL, reason="no training chapter")
def test_a_training_chapter_holds_against_the_judge_attacks(tmp_path):
    """The judge's contract on a chapter whose tests train models: the solution gets every
    point, and each attack on the judge earns what the honest work beside it deserves."""
    chapter = TRAINING_CHAPTER
    root = released_course(tmp_path / "course", [chapter])
    first = answer_ids(source_nb(root, chapter))[0]
    wrong = next(w["cells"] for w in wrong_answers(chapter) if set(w["cells"]) == {first})
    cases = build_cases(source_nb(root, chapter), release_nb(root, chapter), wrong=wrong)
    cases = {name: cases[name] for name in ("correct", "blank", *ATTACKS)}
    results = graded(root, chapter, cases)
    wrong_outcomes = {
        name: (results[name].status, results[name].auto_score, results[name].reason)
        for name, case in cases.items()
        if (results[name].status, results[name].auto_score) != (case.expect.status, case.expect.auto_score)}
    assert not wrong_outcomes, f"expected {[(n, cases[n].expect) for n in wrong_outcomes]}, got {wrong_outcomes}"
