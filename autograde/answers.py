"""What an answer's own source uses, read by the grader (never run).

The tripwires of `check.forbid` live in the student's kernel, where student
code can switch them off. This is the wall that code cannot reach: the judge
reads the answer cells of an exercise, follows the functions they call into
the other cells the student wrote, and fails the exercise when that code
names a function the exercise forbids (`F.conv2d`, `X.unfold`, `helpers.*`,
SciPy's `correlate2d`, ...).

    uses = forbidden_uses(cells, test_index, forbidden_names)
    # [("F.conv2d", "cell 14, line 3"), ...]
"""
import ast

# Library functions that do a convolution's or a pooling's whole job outside torch.
_OUTSIDE_TORCH = {"correlate", "correlate2d", "convolve", "convolve2d", "fftconvolve",
                  "oaconvolve", "sliding_window_view", "as_strided", "maximum_filter",
                  "uniform_filter", "block_reduce", "view_as_windows"}
_CONVOLUTION_WORDS = ("conv", "corr", "unfold", "pool", "im2col", "col2im", "strided")


def short_names(forbidden):
    """The attribute names to look for: "torch.nn.functional.conv2d" -> "conv2d",
    "torch.ops.aten.conv2d.default" -> "conv2d"."""
    names = set()
    for name in forbidden:
        parts = name.split(".")
        if parts[:3] == ["torch", "ops", "aten"] and len(parts) > 3:
            names.add(parts[3])
        elif len(parts) > 1 and parts[-1]:
            names.add(parts[-1])
    # A helpers kernel name ("corr2d", "train") is caught as helpers.<name> only: a
    # student's own function, or model.train(), may share the name.
    if any(word in n for n in (*names, *forbidden) for word in _CONVOLUTION_WORDS):
        names |= _OUTSIDE_TORCH
    return names


def forbidden_uses(cells, test_index, forbidden):
    """Where the answers of the exercise tested by cells[test_index] name a forbidden thing.

    cells: the notebook's cells (nbformat); forbidden: dotted names given to
    `check.forbid` in that test (helpers kernel names, torch functions).
    Returns [(what, where)], empty when the code is clean.
    """
    if not forbidden:
        return []
    names = short_names(forbidden)
    roots, library = _answer_cells(cells, test_index)
    definitions = {}
    for index, tree in library:
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions.setdefault(node.name, []).append((index, node))
    seen, found, todo = set(), [], [(index, tree) for index, tree in roots]
    while todo:
        index, node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for sub in ast.walk(node):
            hit = _hit(sub, names)
            if hit:
                found.append((hit, f"cell {index + 1}, line {getattr(sub, 'lineno', '?')}"))
            if isinstance(sub, ast.Name) and sub.id in definitions:
                todo.extend(definitions[sub.id])
    return sorted(set(found))


def defined_names(cells, test_index):
    """The functions and classes the answer cells of the exercise tested by cells[test_index] define."""
    roots, _ = _answer_cells(cells, test_index)
    return {node.name for _, tree in roots for node in tree.body
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def used_definitions(cells, test_index):
    """The student's functions and classes the exercise's answers reach, its own excluded:
    e.g. {"corr2d"} for a corr2d_multi_in that calls corr2d."""
    roots, library = _answer_cells(cells, test_index)
    definitions = {}
    for index, tree in library:
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                definitions.setdefault(node.name, []).append(node)
    own = defined_names(cells, test_index)
    seen, reached, todo = set(), set(), [tree for _, tree in roots]
    while todo:
        node = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and sub.id in definitions:
                reached.add(sub.id)
                todo.extend(definitions[sub.id])
    return reached - own


def _answer_cells(cells, test_index):
    """(roots, library): the parsed answer cells of this exercise (those since the
    previous graded test cell), and every cell the student could have written."""
    roots, library = [], []
    start = max((i for i in range(test_index) if _is_test(cells[i])), default=-1) + 1
    for index, cell in enumerate(cells):
        if cell.cell_type != "code" or _is_test(cell):
            continue
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("locked") and not meta.get("solution"):
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        library.append((index, tree))
        if meta.get("solution") and start <= index < test_index:
            roots.append((index, tree))
    return roots, library


def _is_test(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")


def _parse(source):
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _hit(node, names):
    """The forbidden thing `node` names, as the student wrote it, or None."""
    if isinstance(node, ast.Attribute):
        base = node.value.id if isinstance(node.value, ast.Name) else ""
        if base == "helpers":
            return f"helpers.{node.attr}"
        if node.attr in names:
            return f"{base + '.' if base else '.'}{node.attr}"
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        module = getattr(node, "module", None) or ""
        if module.split(".")[0] == "helpers" or any(a.name.split(".")[0] == "helpers" for a in node.names):
            return f"import from helpers"
        for alias in node.names:
            if alias.name.split(".")[-1] in names:
                return f"import {alias.name}" + (f" from {module}" if module else "")
    return None
