"""Build release/ from source/ with nbgrader's generate_assignment.

Source notebooks are first stored clean (no outputs, no execution counts)
and with the metadata the kernel reports (`kernel_metadata`); nbgrader then
writes release/NN_name/ with solutions replaced by `raise NotImplementedError()`
and hidden tests removed, and records the assignment in the course gradebook
(needed later for autograding). The release notebook gets the same metadata.

Why the metadata: JupyterLab copies the running kernel's `language_info` and
kernelspec into the notebook as soon as the kernel starts, so a notebook
stored with less (`{"name": "python"}`, say) opens marked as changed.
"""
import copy
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from course import ROOT, resolve_chapters, source_notebook


# What a notebook needs in `language_info` so that JupyterLab leaves it unchanged.
LANGUAGE_INFO_KEYS = (
    "name", "version", "mimetype", "file_extension",
    "codemirror_mode", "nbconvert_exporter", "pygments_lexer",
)


def kernel_metadata():
    """(kernelspec, language_info) as the course's python3 kernel reports them.

    language_info is ipykernel's own (the kernel runs this interpreter, so the
    version is this one's); kernelspec is the installed `python3` spec.
    """
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    language_info = copy.deepcopy(IPythonKernel.language_info)
    try:
        spec = KernelSpecManager().get_kernel_spec("python3")
        kernelspec = {"display_name": spec.display_name, "language": spec.language, "name": "python3"}
    except Exception:  # no kernelspec installed: ipykernel's default
        kernelspec = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return kernelspec, language_info


def set_kernel_metadata(nb):
    """Give a notebook the kernel's kernelspec and complete language_info; True if it changed."""
    kernelspec, language_info = kernel_metadata()
    changed = False
    for key, value in (("kernelspec", kernelspec), ("language_info", language_info)):
        if nb.metadata.get(key) != value:
            nb.metadata[key] = nbformat.from_dict(value)
            changed = True
    return changed


def strip_outputs(path):
    """Store a notebook clean in place: no outputs or execution counts, no widget
    state, the kernel's metadata (`set_kernel_metadata`); True if it changed."""
    nb = nbformat.read(path, as_version=4)
    changed = set_kernel_metadata(nb)
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
            print(f"{chapter}: stored the source notebook clean (outputs, kernel metadata)")
        generate(chapter, root)
        set_release_metadata(chapter, Path(root) / "release" / chapter)
        print(f"{chapter}: release/{chapter}/ rebuilt")


def set_release_metadata(chapter, release_dir):
    """nbgrader copies the source's metadata; make sure the release has the kernel's too."""
    path = Path(release_dir) / f"{chapter}.ipynb"
    nb = nbformat.read(path, as_version=4)
    if set_kernel_metadata(nb):
        nbformat.write(nb, path)


def generate_elsewhere(chapter, root=ROOT):
    """Generate a chapter's release in a scratch course root; returns (tmpdir, release dir).

    Used by the checks, so that checking never touches the real gradebook or release/.
    """
    tmp = Path(tempfile.mkdtemp(prefix=f"release-{chapter}-"))
    shutil.copy(Path(root) / "nbgrader_config.py", tmp)
    shutil.copytree(Path(root) / "source" / chapter, tmp / "source" / chapter)
    generate(chapter, tmp)
    set_release_metadata(chapter, tmp / "release" / chapter)
    return tmp, tmp / "release" / chapter
