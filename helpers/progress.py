"""The progress table at the end of every chapter, for a learner on their own.

    from helpers import progress
    progress.show()

lists every graded exercise of the notebook with what its visible tests
said the last time its test cell ran in this kernel:

    ✓ passed     the visible tests passed
    ✗ failed     the first line of the message (the likely cause when there is one)
    … not done   the answer still raises NotImplementedError, or uses a name not defined yet
    · not run    the test cell has not run since the kernel started

How it knows: `install()` (called when helpers.check is imported) registers
an IPython post_run_cell hook that records, for every cell run, a hash of its
source and how it ended. `show()` reads the notebook file, finds the graded
test cells (nbgrader metadata) and looks their sources up. The test cells are
locked, so the file's copy matches what ran even when the notebook is not
saved. Hidden tests only run when the notebook is graded: a pass here means
the visible tests pass, not full marks.
"""
import hashlib
import html
import json
import os
from pathlib import Path

__all__ = ["install", "record", "rows", "show"]

_outcomes = {}          # source hash -> (status, reason)
_NOT_DONE = ("NotImplementedError", "NameError", "UnboundLocalError")
_ICONS = {"passed": "✓", "failed": "✗", "not done": "…", "not run": "·"}


def _key(source):
    return hashlib.sha256(source.strip().encode()).hexdigest()


def _reason(error):
    """One line: the check's first line, and its likely cause when it names one."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    first = lines[0] if len(lines[0]) > 20 or len(lines) == 1 else f"{lines[0]} {lines[1]}"
    cause = next((line for line in lines[1:] if line.startswith("likely cause")), None)
    text = f"{first} ({cause})" if cause and cause not in first else first
    return text if len(text) <= 160 else text[:157] + "..."


def record(source, error):
    """Note how a cell with this source ended: error is None or the exception it raised."""
    if error is None:
        _outcomes[_key(source)] = ("passed", "")
    elif type(error).__name__ in _NOT_DONE:
        _outcomes[_key(source)] = ("not done", f"{type(error).__name__}: {_reason(error)}")
    else:
        _outcomes[_key(source)] = ("failed", _reason(error))


def _post_run_cell(result):
    info = getattr(result, "info", None)
    source = getattr(info, "raw_cell", None)
    if source:
        record(source, result.error_before_exec or result.error_in_exec)


def install():
    """Record the outcome of every cell run in this IPython kernel (once; no-op outside IPython)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover
        return
    shell = get_ipython()
    if shell is None:
        return
    callbacks = shell.events.callbacks.get("post_run_cell", [])
    if not any(getattr(cb, "__name__", "") == "_post_run_cell" and getattr(cb, "__module__", "") == __name__
               for cb in callbacks):
        shell.events.register("post_run_cell", _post_run_cell)


def _notebook_path(notebook):
    if notebook is not None:
        path = Path(notebook)
        if not path.is_file():
            raise FileNotFoundError(f"notebook: no such file {str(path)!r}")
        return path
    session = os.environ.get("JPY_SESSION_NAME")  # JupyterLab sets it to the notebook's path
    if session and Path(session).is_file() and session.endswith(".ipynb"):
        return Path(session)
    found = sorted(Path.cwd().glob("*.ipynb"))   # a chapter folder holds one notebook
    if len(found) == 1:
        return found[0]
    raise FileNotFoundError(
        "notebook: could not tell which notebook this is; pass its file name, "
        "e.g. progress.show('01_convolution.ipynb')")


def rows(nb):
    """(exercise, points, status, reason) for each graded test cell of nb (a notebook dict)."""
    table = []
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") != "code" or not meta.get("grade"):
            continue
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else source
        status, reason = _outcomes.get(_key(source), ("not run", ""))
        name = meta.get("grade_id", "?")
        table.append((name[5:] if name.startswith("test_") else name, meta.get("points", 0), status, reason))
    return table


class _Table:
    """Shows as HTML in JupyterLab and as text anywhere else."""

    def __init__(self, rows):
        self.rows = rows

    def _summary(self):
        done = sum(status == "passed" for _, _, status, _ in self.rows)
        return (f"{done} of {len(self.rows)} exercises pass their visible tests "
                "(the hidden tests run when the notebook is graded)")

    def __repr__(self):
        width = max((len(name) for name, *_ in self.rows), default=8)
        lines = [self._summary()]
        for name, points, status, reason in self.rows:
            line = f"  {_ICONS[status]} {name:<{width}}  {points:>2} pt  {status}"
            lines.append(f"{line}: {reason}" if reason else line)
        return "\n".join(lines)

    def _repr_html_(self):
        colours = {"passed": "#1a7f37", "failed": "#cf222e", "not done": "#9a6700", "not run": "#57606a"}
        body = "".join(
            f"<tr><td style='color:{colours[s]}'>{_ICONS[s]} {html.escape(s)}</td>"
            f"<td style='text-align:left'><code>{html.escape(n)}</code></td><td>{p}</td>"
            f"<td style='text-align:left'>{html.escape(r)}</td></tr>"
            for n, p, s, r in self.rows)
        return (f"<p><b>Your progress:</b> {html.escape(self._summary())}</p>"
                "<table><tr><th>status</th><th style='text-align:left'>exercise</th><th>points</th>"
                f"<th style='text-align:left'>message</th></tr>{body}</table>")


def show(notebook=None):
    """The progress table of this chapter's notebook (its file name, or found in the working folder)."""
    if os.environ.get("NBGRADER_EXECUTION") == "autograde" or os.environ.get("AUTOGRADE_ISOLATED"):
        # While grading, the test cells run in the grader, not here: nothing was recorded.
        print("This notebook is being graded: the scores of each exercise are in the feedback.")
        return None
    path = _notebook_path(notebook)
    with open(path, encoding="utf-8") as f:
        return _Table(rows(json.load(f)))
