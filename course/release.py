"""Build release/ from source/ with nbgrader's generate_assignment.

Source notebooks are first stored clean (no outputs, no execution counts);
nbgrader then writes release/NN_name/ with solutions replaced by
`raise NotImplementedError()` and hidden tests removed, and records the
assignment in the course gradebook (needed later for autograding).
"""
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from course import ROOT, resolve_chapters, source_notebook


def strip_outputs(path):
    """Remove outputs and execution counts from a notebook in place; True if it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if cell.get("outputs") or cell.get("execution_count") is not None:
            cell.outputs = []
            cell.execution_count = None
            changed = True
    if nb.metadata.pop("widgets", None) is not None:
        changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


def generate(chapter, course_root):
    """Run `nbgrader generate_assignment` for one chapter in `course_root`."""
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "generate_assignment", chapter, "--force"],
        cwd=course_root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"nbgrader generate_assignment {chapter} failed:\n{result.stdout}{result.stderr}"
        )


def release(chapters=(), root=ROOT):
    """Rebuild release/ for the named chapters (all when none are named)."""
    for chapter in resolve_chapters(chapters, root):
        if strip_outputs(source_notebook(chapter, root)):
            print(f"{chapter}: stripped outputs from the source notebook")
        generate(chapter, root)
        print(f"{chapter}: release/{chapter}/ rebuilt")


def generate_elsewhere(chapter, root=ROOT):
    """Generate a chapter's release in a scratch course root; returns (tmpdir, release dir).

    Used by the checks, so that checking never touches the real gradebook or release/.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"release-{chapter}-"))
    shutil.copy(Path(root) / "nbgrader_config.py", tmp)
    shutil.copytree(Path(root) / "source" / chapter, tmp / "source" / chapter)
    generate(chapter, tmp)
    return tmp, tmp / "release" / chapter
