"""Check the course: every notebook runs, grades as it should, and leaks nothing.

Each check takes a chapter and returns a list of problems (empty when fine),
so `python -m course check` can print a table and the test suite can assert
on the same functions:

- source_passes:  the instructor notebook runs top to bottom with its
                  solutions and every graded test passes, silently.
- release_fails_cleanly: the student notebook runs to the end (no hang, no
                  dead kernel) and every graded test fails, scoring 0.
- release_in_sync: release/ is what nbgrader generates from source/ now.
- release_leaks_nothing: no solution code and no hidden test in release/.
- stored_clean:   notebooks are committed without outputs.
- stored_kernel_metadata: notebooks are committed with the complete
                  language_info (and kernelspec) the kernel reports, so
                  JupyterLab opens them unchanged (no "unsaved" mark).
"""
import os
import re
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbgrader.utils import determine_grade, is_grade, is_solution

from course import ROOT, release_notebook, resolve_chapters, source_notebook
from course.release import LANGUAGE_INFO_KEYS, generate_elsewhere, kernel_metadata

CELL_TIMEOUT = 120  # seconds; generous, since CI machines are shared
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")


@dataclass
class Result:
    """What one check found: problems (empty = pass) and how long it took."""

    problems: list = field(default_factory=list)
    seconds: float = 0.0
    summary: str = ""


def execute(path, allow_errors):
    """Run a notebook top to bottom in its own folder; returns (notebook, seconds)."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=allow_errors,
        resources={"metadata": {"path": str(path.parent)}},
    )
    _put_root_on_pythonpath()
    start = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - start


def _put_root_on_pythonpath():
    """Kernels inherit our environment; they must be able to `import helpers`."""
    paths = os.environ.get("PYTHONPATH", "").split(os.pathsep)
    if str(ROOT) not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in paths if p])


def graded_tests(nb):
    """The autograded test cells: graded code cells that are not answer cells."""
    return [c for c in nb.cells if c.cell_type == "code" and is_grade(c) and not is_solution(c)]


def _grade_id(cell):
    return cell.metadata["nbgrader"]["grade_id"]


def _progress_problem(nb, tests, passing):
    """The chapter's last cell shows the progress table, with `passing` exercises passed."""
    cells = [c for c in nb.cells if c.cell_type == "code" and "progress.show()" in c.source]
    if not cells:
        return "the notebook has no progress table (a last cell with progress.show())"
    text = "".join(o.get("data", {}).get("text/plain", "") for o in cells[-1].get("outputs", [])
                   if o.output_type in ("execute_result", "display_data"))
    want = f"{passing} of {len(tests)} exercises pass"
    if want not in text:
        return f"the progress table should say {want!r}, it shows {text.strip()[:200]!r}"
    return None


def _error_text(cell):
    for out in cell.get("outputs", []):
        if out.output_type == "error":
            return f"{out.ename}: {out.evalue}".strip()[:300]
    return ""


def source_passes(chapter, root=ROOT):
    """The source notebook runs with its solutions and every graded test passes."""
    result = Result()
    try:
        nb, result.seconds = execute(source_notebook(chapter, root), allow_errors=True)
    except (CellTimeoutError, DeadKernelError) as exc:
        result.problems.append(f"source notebook did not finish: {type(exc).__name__}: {exc}")
        return result
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and _error_text(cell):
            result.problems.append(f"cell {index} raised {_error_text(cell)}")
    tests = graded_tests(nb)
    for cell in tests:
        stderr = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        if stderr:
            result.problems.append(
                f"test {_grade_id(cell)} wrote to stderr (nbgrader scores that 0): "
                f"{stderr[0].text.strip()[:200]}"
            )
    problem = _progress_problem(nb, tests, passing=len(tests))
    if problem:
        result.problems.append(problem)
    result.summary = f"{len(tests)} tests pass" if not result.problems else "FAIL"
    return result


def _missing_release(chapter, root, result):
    path = release_notebook(chapter, root)
    if not path.exists():
        result.problems.append(f"release/{chapter}/{path.name} is missing: run python -m course release {chapter}")
        return True
    return False


def release_fails_cleanly(chapter, root=ROOT):
    """The release notebook runs to the end and every graded test scores 0."""
    result = Result()
    if _missing_release(chapter, root, result):
        return result
    try:
        nb, result.seconds = execute(release_notebook(chapter, root), allow_errors=True)
    except (CellTimeoutError, DeadKernelError) as exc:
        result.problems.append(f"release notebook did not finish: {type(exc).__name__}: {exc}")
        return result
    tests = graded_tests(nb)
    for cell in tests:
        score, _ = determine_grade(cell)
        if score != 0:
            result.problems.append(
                f"test {_grade_id(cell)} gives {score} points to an untouched release notebook"
            )
        elif not _error_text(cell):
            result.problems.append(f"test {_grade_id(cell)} fails without an error message")
    if not tests:
        result.problems.append("release notebook has no graded tests")
    problem = _progress_problem(nb, tests, passing=0)
    if problem:
        result.problems.append(problem)
    result.summary = f"{len(tests)} tests fail" if not result.problems else "FAIL"
    return result


def _comparable(nb):
    """A notebook reduced to what nbgrader generates: cells and their metadata."""
    return [(c.cell_type, c.source, dict(c.metadata)) for c in nb.cells]


def release_in_sync(chapter, root=ROOT):
    """release/ equals what nbgrader generates from source/ now."""
    result = Result()
    if _missing_release(chapter, root, result):
        return result
    committed = release_notebook(chapter, root)
    tmp, fresh_dir = generate_elsewhere(chapter, root)
    try:
        fresh = nbformat.read(fresh_dir / committed.name, as_version=4)
        if _comparable(fresh) != _comparable(nbformat.read(committed, as_version=4)):
            result.problems.append(
                f"release/{chapter} is stale: run `python -m course release {chapter}` and commit it"
            )
        # Jupyter leaves .ipynb_checkpoints beside any notebook it opened; git ignores it.
        extra = ({p.name for p in fresh_dir.iterdir()}
                 ^ {p.name for p in committed.parent.iterdir()}) - {".ipynb_checkpoints"}
        if extra:
            result.problems.append(f"release/{chapter} and a fresh build differ in files: {sorted(extra)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def _region_lines(source, begin, end):
    """Non-trivial lines between `### BEGIN x` and `### END x` markers."""
    lines, inside = [], False
    for line in source.splitlines():
        if re.search(rf"#+\s*{begin}", line):
            inside = True
        elif re.search(rf"#+\s*{end}", line):
            inside = False
        elif inside and len(line.strip()) > 3 and re.search(r"\w", line):
            lines.append(line.strip())
    return lines


def release_leaks_nothing(chapter, root=ROOT):
    """No markers, solution lines or hidden test lines appear in the release notebook."""
    result = Result()
    if _missing_release(chapter, root, result):
        return result
    src = nbformat.read(source_notebook(chapter, root), as_version=4)
    rel = nbformat.read(release_notebook(chapter, root), as_version=4)
    released = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in rel.cells
        if "grade_id" in c.metadata.get("nbgrader", {})
    }
    for cell in rel.cells:
        for marker in MARKERS:
            if marker in cell.source:
                result.problems.append(f"release contains the marker '{marker}'")
    for cell in src.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id not in released:
            continue
        # A line may legitimately appear in both hidden and visible parts.
        visible = set(line.strip() for line in _strip_regions(cell.source).splitlines())
        secret = _region_lines(cell.source, "BEGIN SOLUTION", "END SOLUTION") + _region_lines(
            cell.source, "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"
        )
        released_lines = set(line.strip() for line in released[grade_id].splitlines())
        for line in secret:
            if line not in visible and line in released_lines:
                result.problems.append(f"cell {grade_id} leaks: {line[:80]}")
    return result


def _strip_regions(source):
    return re.sub(r"#+\s*BEGIN (SOLUTION|HIDDEN TESTS).*?#+\s*END \1", "", source, flags=re.S)


def stored_clean(chapter, root=ROOT):
    """Source and release notebooks are committed without outputs or execution counts."""
    result = Result()
    for path in (source_notebook(chapter, root), release_notebook(chapter, root)):
        if not path.exists():
            continue
        nb = nbformat.read(path, as_version=4)
        dirty = [
            i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)
        ]
        if dirty:
            result.problems.append(
                f"{path.relative_to(root)} has outputs in cells {dirty[:5]}: "
                "run python -m course release to strip them"
            )
    return result


def kernel_metadata_problems(metadata):
    """What a notebook's metadata lacks against the kernel's; [] when complete.

    language_info must have every key the kernel reports (its values too, but
    for the Python patch version, which differs from machine to machine); the
    kernelspec must be the installed python3 spec's.
    """
    kernelspec, language_info = kernel_metadata()
    stored = metadata.get("language_info") or {}
    problems = []
    missing = [key for key in LANGUAGE_INFO_KEYS if key not in stored]
    if missing:
        problems.append(f"language_info lacks {', '.join(missing)}")
    differ = [key for key in LANGUAGE_INFO_KEYS
              if key != "version" and key in stored and stored[key] != language_info[key]]
    if differ:
        problems.append(f"language_info differs from the kernel's in {', '.join(differ)}")
    if metadata.get("kernelspec") != kernelspec:
        problems.append(f"kernelspec is {metadata.get('kernelspec')}, the kernel's is {kernelspec}")
    return problems


def stored_kernel_metadata(chapter, root=ROOT):
    """Source and release notebooks store the kernel's complete language_info and kernelspec."""
    result = Result()
    for path in (source_notebook(chapter, root), release_notebook(chapter, root)):
        if not path.exists():
            continue
        for problem in kernel_metadata_problems(nbformat.read(path, as_version=4).metadata):
            result.problems.append(
                f"{path.relative_to(root)}: {problem}, so JupyterLab opens it as changed: "
                "run python -m course release to store it"
            )
    return result


CHECKS = (stored_clean, stored_kernel_metadata, release_in_sync, release_leaks_nothing, source_passes, release_fails_cleanly)


def _run(check, chapter):
    return chapter, check.__name__, check(chapter)


def main(chapters=(), jobs=2):
    """Run every check on the chosen chapters, print a table; exit status 1 on any problem."""
    _put_root_on_pythonpath()
    chosen = resolve_chapters(chapters)
    if not chosen:
        print("no chapters found under source/")
        return 1
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_run, check, ch) for ch in chosen for check in CHECKS]
        results = [f.result() for f in futures]
    failed = False
    print(f"{'chapter':<20} {'check':<24} {'result':<16} {'seconds':>8}")
    for chapter, name, res in results:
        status = res.summary or ("ok" if not res.problems else "FAIL")
        seconds = f"{res.seconds:8.1f}" if res.seconds else ""
        print(f"{chapter:<20} {name:<24} {status:<16} {seconds}")
        for problem in res.problems:
            failed = True
            print(f"    - {problem}")
    print("all checks passed" if not failed else "some checks FAILED")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
