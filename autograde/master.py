"""A chapter's master cells: read once from the gradebook, carried to every work unit.

nbgrader's sanitize steps (OverwriteCells, OverwriteKernelspec) normally query
the gradebook for each submission. Here the parent reads the master cells once
(`read_master`) into plain data, and the workers answer those queries from it
(`MasterGradebook`), so a worker never opens the sqlite file: the parent stays
its only writer, and a worker on another machine needs no access to it.

`restore_stripped_metadata` puts back the nbgrader metadata of cells a
student's editor dropped (Colab, jupytext, a copy-paste into a new notebook),
by matching the released text of locked cells, so such a submission is graded
like any other instead of scoring 0.
"""
import hashlib
import json
import re
from types import SimpleNamespace

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.nbgraderformat import MetadataValidator


def read_master(gb, assignment_id, source_order=None):
    """The master cells of every notebook of an assignment, as plain data.

    gb: an open nbgrader Gradebook. source_order: optional {notebook: [grade_id, ...]}
    giving the order of cells in the source notebook (the gradebook keeps none).
    Raises MissingEntry when the assignment was never generated.
    """
    assignment = gb.find_assignment(assignment_id)
    notebooks = {}
    for notebook in assignment.notebooks:
        grade = {c.name: c for c in notebook.grade_cells}
        solution = {c.name for c in notebook.solution_cells}
        task = {c.name: c for c in notebook.task_cells}
        cells = []
        for cell in notebook.source_cells:
            graded = grade.get(cell.name) or task.get(cell.name)
            cells.append({
                "name": cell.name,
                "cell_type": cell.cell_type,
                "locked": bool(cell.locked),
                "source": cell.source or "",
                "checksum": cell.checksum,
                "grade": cell.name in grade,
                "solution": cell.name in solution,
                "task": cell.name in task,
                "points": float(graded.max_score) if graded is not None else None,
            })
        order = (source_order or {}).get(notebook.name)
        if order:
            rank = {name: i for i, name in enumerate(order)}
            cells.sort(key=lambda c: rank.get(c["name"], len(rank)))
        notebooks[notebook.name] = {"kernelspec": notebook.kernelspec, "cells": cells}
    return {"assignment": assignment_id, "notebooks": notebooks,
            "hash": hashlib.sha256(json.dumps(notebooks, sort_keys=True).encode()).hexdigest()[:16]}


def source_order(nb):
    """The grade_ids of a notebook's nbgrader cells, in order."""
    return [c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if "grade_id" in c.metadata.get("nbgrader", {})]


class MasterGradebook:
    """Answers the few Gradebook queries of nbgrader's sanitize steps from `read_master` data."""

    def __init__(self, master):
        self.master = master

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def _notebook(self, notebook_id, assignment_id):
        if assignment_id != self.master["assignment"] or notebook_id not in self.master["notebooks"]:
            raise MissingEntry()
        return self.master["notebooks"][notebook_id]

    def find_notebook(self, notebook_id, assignment_id):
        nb = self._notebook(notebook_id, assignment_id)
        cells = [SimpleNamespace(**c, max_score=c["points"]) for c in nb["cells"]]
        return SimpleNamespace(
            kernelspec=nb["kernelspec"],
            source_cells=cells,
            grade_cells=[c for c in cells if c.grade],
            solution_cells=[c for c in cells if c.solution],
            task_cells=[c for c in cells if c.task],
        )

    def find_source_cell(self, name, notebook_id, assignment_id):
        for cell in self._notebook(notebook_id, assignment_id)["cells"]:
            if cell["name"] == name:
                return SimpleNamespace(**cell)
        raise MissingEntry()

    def find_graded_cell(self, name, notebook_id, assignment_id):
        cell = self.find_source_cell(name, notebook_id, assignment_id)
        if not (cell.grade or cell.task):
            raise MissingEntry()
        return SimpleNamespace(name=name, max_score=cell.points, cell_type=cell.cell_type)


# ----------------------------------------------------------------- metadata

_HIDDEN = re.compile(r"^[ \t]*### BEGIN HIDDEN TESTS.*?^[ \t]*### END HIDDEN TESTS[^\n]*\n?", re.M | re.S)


def released_source(source):
    """The text a student received for a locked cell: hidden tests removed."""
    return _HIDDEN.sub("", source)


def _normal(text):
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def cell_metadata(master_cell):
    """The nbgrader metadata a master cell carries in a released notebook."""
    meta = {
        "grade": master_cell["grade"],
        "grade_id": master_cell["name"],
        "locked": master_cell["locked"],
        "solution": master_cell["solution"],
        "schema_version": 3,
    }
    if master_cell["grade"] or master_cell["task"]:
        meta["points"] = master_cell["points"]
    if master_cell["task"]:
        meta["task"] = True
    return meta


def grade_ids(nb):
    return {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
            if isinstance(c.metadata.get("nbgrader"), dict) and c.metadata["nbgrader"].get("grade_id")}


def restore_stripped_metadata(nb, master_nb):
    """Re-tag cells whose nbgrader metadata is gone; returns the restored grade_ids.

    A locked master cell (test cells, locked text) missing from `nb` is matched
    to an untagged cell of the same type whose text equals the released (or
    full) master text. An answer cell missing from `nb` is then matched to the
    untagged cell of its type just before the next restored-or-present master
    cell. Cells nothing matches are left to OverwriteCells.add_missing_cells.
    """
    present = grade_ids(nb)
    master_cells = master_nb["cells"]
    untagged = [i for i, c in enumerate(nb.cells) if not c.metadata.get("nbgrader")]
    restored = []

    def tag(index, mc):
        cell = nb.cells[index]
        cell.metadata["nbgrader"] = NotebookNode(cell_metadata(mc))
        MetadataValidator().upgrade_cell_metadata(cell)
        untagged.remove(index)
        present.add(mc["name"])
        restored.append(mc["name"])

    for mc in master_cells:
        if mc["name"] in present or not mc["locked"] or mc["solution"]:
            continue
        wanted = {_normal(released_source(mc["source"])), _normal(mc["source"])}
        for i in untagged:
            if nb.cells[i].cell_type == mc["cell_type"] and _normal(nb.cells[i].source) in wanted:
                tag(i, mc)
                break

    position = {}
    for i, cell in enumerate(nb.cells):
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid:
            position.setdefault(gid, i)
    for k, mc in enumerate(master_cells):
        if mc["name"] in present or not mc["solution"]:
            continue
        after = [position[m["name"]] for m in master_cells[k + 1:] if m["name"] in position]
        before = [position[m["name"]] for m in master_cells[:k] if m["name"] in position]
        if not after:
            continue
        low = max(before) if before else -1
        candidates = [i for i in untagged
                      if low < i < min(after) and nb.cells[i].cell_type == mc["cell_type"]]
        if candidates:
            tag(candidates[-1], mc)
            position[mc["name"]] = candidates[-1]
    return restored
