"""What the chapter tests share: a source notebook's cells by grade_id, and the
plausible wrong answers of tests/wrong_answers/<chapter>.py."""
import importlib.util

import nbformat

from course import ROOT, source_notebook

WRONG_DIR = ROOT / "tests" / "wrong_answers"


def cells_by_id(chapter):
    """{grade_id: source} of the chapter's source notebook."""
    nb = nbformat.read(source_notebook(chapter), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})}


def wrong_answers(chapter):
    """The chapter's WRONG_ANSWERS list ([] when it has none)."""
    path = WRONG_DIR / f"{chapter}.py"
    if not path.exists():
        return []
    spec = importlib.util.spec_from_file_location(f"wrong_{chapter}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG_ANSWERS
