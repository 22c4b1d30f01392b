"""`python -m course check`, chapter by chapter: the same functions the CLI runs."""
import pytest

from course import available_chapters, check

CHAPTERS = available_chapters()


def _assert_no_problems(result):
    assert not result.problems, "\n".join(result.problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebooks_are_stored_without_outputs(chapter):
    _assert_no_problems(check.stored_clean(chapter))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_is_what_nbgrader_generates_from_source(chapter):
    _assert_no_problems(check.release_in_sync(chapter))


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_leaks_no_solution_and_no_hidden_test(chapter):
    _assert_no_problems(check.release_leaks_nothing(chapter))


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_source_notebook_runs_and_passes_all_its_tests(chapter):
    result = check.source_passes(chapter)
    print(f"{chapter} source executed in {result.seconds:.1f} s")
    _assert_no_problems(result)


@pytest.mark.notebooks
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_release_notebook_runs_and_fails_its_tests_cleanly(chapter):
    result = check.release_fails_cleanly(chapter)
    print(f"{chapter} release executed in {result.seconds:.1f} s")
    _assert_no_problems(result)


def test_leak_check_catches_a_leaked_hidden_test(tmp_path):
    """The leak check itself can fail: plant a hidden line in a copy of a release."""
    import shutil

    import nbformat

    if not CHAPTERS:
        pytest.skip("no chapter yet")
    chapter = CHAPTERS[0]
    root = tmp_path
    shutil.copytree(check.ROOT / "source" / chapter, root / "source" / chapter)
    shutil.copytree(check.ROOT / "release" / chapter, root / "release" / chapter)
    src = nbformat.read(root / "source" / chapter / f"{chapter}.ipynb", as_version=4)
    rel_path = root / "release" / chapter / f"{chapter}.ipynb"
    rel = nbformat.read(rel_path, as_version=4)
    hidden_cell = next(c for c in src.cells if "BEGIN HIDDEN TESTS" in c.source)
    secret = check._region_lines(hidden_cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")[0]
    grade_id = hidden_cell.metadata["nbgrader"]["grade_id"]
    target = next(c for c in rel.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    target.source += "\n" + secret
    nbformat.write(rel, rel_path)
    problems = check.release_leaks_nothing(chapter, root=root).problems
    assert any(grade_id in p for p in problems), problems


def test_a_missing_release_is_reported_not_a_crash(tmp_path):
    if not CHAPTERS:
        pytest.skip("no chapter yet")
    import shutil

    chapter = CHAPTERS[0]
    shutil.copytree(check.ROOT / "source" / chapter, tmp_path / "source" / chapter)
    for name in ("release_in_sync", "release_leaks_nothing", "release_fails_cleanly"):
        problems = getattr(check, name)(chapter, root=tmp_path).problems
        assert any("missing" in p for p in problems), (name, problems)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_notebooks_store_the_kernels_language_info(chapter):
    """A notebook stored with less than the kernel reports opens in JupyterLab as changed."""
    _assert_no_problems(check.stored_kernel_metadata(chapter))


def test_metadata_check_catches_incomplete_language_info(tmp_path):
    """The check can fail: a copy of a chapter stored with only {"name": "python"}."""
    import shutil

    import nbformat

    if not CHAPTERS:
        pytest.skip("no chapter yet")
    chapter = CHAPTERS[0]
    shutil.copytree(check.ROOT / "source" / chapter, tmp_path / "source" / chapter)
    path = tmp_path / "source" / chapter / f"{chapter}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.write(nb, path)
    problems = check.stored_kernel_metadata(chapter, root=tmp_path).problems
    assert any("language_info lacks version" in p and "mimetype" in p for p in problems), problems


def test_release_writes_the_kernels_language_info(tmp_path):
    """course.release stores what the kernel reports, in the source notebook and the release."""
    import shutil

    import nbformat

    from course import release

    if not CHAPTERS:
        pytest.skip("no chapter yet")
    chapter = CHAPTERS[0]
    shutil.copytree(check.ROOT / "source" / chapter, tmp_path / "source" / chapter)
    path = tmp_path / "source" / chapter / f"{chapter}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["kernelspec"]["display_name"] = "Python 3"
    nbformat.write(nb, path)
    release.strip_outputs(path)
    release_dir = tmp_path / "release" / chapter
    release_dir.mkdir(parents=True)
    shutil.copy(path, release_dir / path.name)  # stands in for nbgrader's copy
    release.set_release_metadata(chapter, release_dir)
    _, language_info = release.kernel_metadata()
    for written in (path, release_dir / path.name):
        metadata = nbformat.read(written, as_version=4).metadata
        assert metadata["language_info"] == language_info
        assert set(release.LANGUAGE_INFO_KEYS) <= set(metadata["language_info"])
        assert check.kernel_metadata_problems(metadata) == []
