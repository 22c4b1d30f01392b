"""Instructor tooling: build release/ from source/, check the course, benchmarks.

    python -m course release [CHAPTER ...]   rebuild student notebooks
    python -m course check [CHAPTER ...]     execute and verify every notebook
    python -m course bench                   print speed figures
"""
from pathlib import Path

from autograde import venv_tools_on_path

venv_tools_on_path()

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = (
    "01_convolution",
    "02_padding_stride",
    "03_pooling",
    "04_im2col",
    "05_transposed_conv",
    "06_cifar2",
    "07_lenet5",
    "08_gpu_training",
)


def available_chapters(root=ROOT):
    """Chapters that have a source notebook, in course order."""
    return [name for name in CHAPTERS if source_notebook(name, root).exists()]


def source_notebook(chapter, root=ROOT):
    return Path(root) / "source" / chapter / f"{chapter}.ipynb"


def release_notebook(chapter, root=ROOT):
    return Path(root) / "release" / chapter / f"{chapter}.ipynb"


def resolve_chapters(names, root=ROOT):
    """Chapter names from the command line ('01', '01_convolution', or none for all)."""
    present = available_chapters(root)
    if not names:
        return present
    chosen = []
    for name in names:
        matches = [c for c in present if c == name or c.split("_")[0] == name]
        if not matches:
            raise SystemExit(
                f"unknown chapter {name!r}: expected one of {', '.join(present) or '(none yet)'}"
                " or its number"
            )
        chosen.extend(matches)
    return chosen
