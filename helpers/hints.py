"""Plain-words hints for the errors students meet most, and where in their code.

    from helpers import hints
    hints.hint_for("ValueError", "step must be greater than zero")
    # 'tensors cannot be sliced with a negative step such as [::-1]: ...'
    try:
        corr2d(X, K)
    except Exception as exc:
        print(hints.explain(exc))
    # Your code raised ValueError: step must be greater than zero
    #   in Cell In[4], line 3: Kf = K[::-1, ::-1]
    #   hint: tensors cannot be sliced with a negative step ...

`student_frame` finds, in a traceback (or a stack), the innermost line that
comes from a notebook cell, not from helpers, torch or another library.
helpers.feedback uses all three to show a failing cell in a few lines.
"""
import linecache
import re

__all__ = ["explain", "explain_lines", "hint_for", "student_frame", "where_text"]

# IPython cell files: "<ipython-input-5-3c1f...>" (old), "/tmp/ipykernel_123/3456.py" (ipykernel 6+).
_CELL_FILE = re.compile(r"(^<ipython-input-(?P<n>\d+)-[0-9a-f]+>$)|([/\\]ipykernel_\d+[/\\]\d+\.py$)")

_FLOAT_HINT = ("this operation needs floating-point tensors, and one of yours holds integers "
               "(dtype long/int64, e.g. from torch.arange(5) or torch.tensor([1, 2])): "
               "create it as floats (torch.arange(5.), torch.tensor([1., 2.]), dtype=torch.float32) "
               "or convert it with .float().")

# (exception type names or None for any, regex on the message, hint; "{name}" etc. filled from the match)
_RULES = [
    (None, r"step must be greater than zero",
     "tensors cannot be sliced with a negative step such as [::-1]. To reverse a tensor use "
     ".flip(dims): K.flip(0, 1) reverses rows and columns, x.flip(0) the first axis."),
    (None, r"Expected all tensors to be on the same device|is not on the expected device",
     "your tensors are on different devices (e.g. one on the GPU, one on the CPU): "
     "move them to the same one with .to(device), and create new tensors with device=x.device."),
    (None, r"leaf Variable that requires grad is being used in an in-place operation",
     "you changed, in place, a tensor that requires grad (a weight: w += ..., w[0] = ...). "
     "Update weights inside `with torch.no_grad():`, or build a new tensor (w = w - lr * grad)."),
    (None, r"not implemented for '(Long|Int|Short|Char|Byte|Bool)'"
           r"|only Tensors of floating point (and complex )?dtype can require gradients"
           r"|could not infer output dtype|only support floating point"
           r"|[Ee]xpected .*floating.?point",
     _FLOAT_HINT),
    (None, r"expected scalar type (\w+) but found (\w+)"
           r"|must have the same dtype|to have (the )?same dtype"
           r"|[Ff]ound dtype (\w+) but expected (\w+)|result type \w+ can't be cast",
     "two tensors have different dtypes (e.g. float32 and float64, or int64 and float32). "
     "Give them the same one: create tensors with dtype=X.dtype, or convert with .to(X.dtype). "
     "NumPy arrays are float64 by default, torch tensors float32."),
    (None, r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)",
     "matrix product of shapes ({1}x{2}) @ ({3}x{4}): the inner sizes {2} and {3} must be equal. "
     "Print the shapes (x.shape); you may need a transpose (.T), a reshape, or another "
     "in_features."),
    (None, r"The size of tensor a \((\d+)\) must match the size of tensor b \((\d+)\)"
           r" at non-singleton dimension (\d+)",
     "the two tensors of an elementwise operation (+, -, *, /) have sizes {1} and {2} along "
     "dimension {3}. Sizes must be equal or 1 (broadcasting): print both shapes; check the "
     "window size, a slice end, or a missing unsqueeze."),
    (None, r"shape '\[[\d, -]*\]' is invalid for input of size \d+",
     "a view/reshape asks for a shape whose number of elements differs from the tensor's: "
     "the product of the sizes must equal x.numel()."),
    (None, r"Sizes of tensors must match|stack expects each tensor to be equal size",
     "torch.cat / torch.stack need tensors of the same shape (apart from the cat dimension): "
     "print the shapes of what you join."),
    (None, r"expected input\[.*\] to have (\d+) channels, but got (\d+) channels",
     "the input's number of channels (dimension 1 of (N, C, H, W)) differs from the weight's "
     "in_channels: check the order of the dimensions and the weight's shape."),
    (None, r"index (-?\d+) is out of bounds for dimension (\d+) with size (\d+)",
     "index {1} along dimension {2}, which only has {3} entries (valid: 0 to {3}-1). "
     "Check a range() end (range(H - kh + 1), not range(H)) or a +1 in an index."),
    (None, r"index out of range|list index out of range|tuple index out of range",
     "an index is past the end. Check a range() end or an index computed with +1."),
    (None, r"Dimension out of range|too many indices for tensor",
     "the tensor has fewer dimensions than your code assumes: print x.shape (a (H, W) image "
     "has no channel dimension; x[None] adds one)."),
    (("AttributeError", "TypeError"), r"'NoneType' object|NoneType|None has no",
     "a value is None: most often a function that returns None. Did you forget `return` "
     "at the end of your function?"),
    (("NameError",), r"name '(\w+)' is not defined",
     "`{1}` does not exist yet: run the cell that defines it (run the cells above, top to "
     "bottom), or do that exercise first. Check the spelling too."),
    (("UnboundLocalError",), r"local variable '(\w+)'|cannot access local variable '(\w+)'",
     "a variable is used before your function gives it a value (perhaps only an `if` branch "
     "or a loop that did not run sets it)."),
    (None, r"element 0 of tensors does not require grad",
     "backward() found no weights in the computation: the loss does not depend on a tensor "
     "with requires_grad=True (was it detached, or computed under torch.no_grad()?)."),
]
_RULES = [(names, re.compile(pattern), hint) for names, pattern, hint in _RULES]


def hint_for(exc_type_name, message):
    """A one-sentence hint for an error, or None when none applies.

    exc_type_name: the exception's class name ("RuntimeError", "NameError", ...).
    message: str(exception).
    """
    message = str(message or "")
    if exc_type_name == "NotImplementedError":
        if re.search(r"not implemented for '(Long|Int|Short|Char|Byte|Bool)'", message):
            return _FLOAT_HINT
        if not message.strip() or "not implemented" not in message.lower():
            return ("this exercise is not done yet: replace `raise NotImplementedError()` "
                    "with your code, and run the cell again.")
    for names, pattern, hint in _RULES:
        if names is not None and exc_type_name not in names:
            continue
        match = pattern.search(message)
        if match:
            groups = [g for g in match.groups()]
            try:
                return hint.format(match.group(0), *groups)
            except (IndexError, KeyError):  # pragma: no cover - a rule's text and regex disagree
                return hint
    return None


# ---------------------------------------------------------------- where in the student's code

def _is_cell(filename):
    return bool(filename) and _CELL_FILE.search(filename) is not None


def _cell_label(filename):
    """"Cell In[5]" for an IPython cell file, else "your cell"."""
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            label = shell.compile.format_code_name(filename)
            if label:
                return " ".join(label)
    except Exception:  # noqa: BLE001 - a label is a nicety
        pass
    match = _CELL_FILE.search(filename)
    if match and match.group("n"):
        return f"Cell In[{match.group('n')}]"
    return "your cell"


def _frames(tb_or_frame):
    """The frames of a traceback (outermost first) or of a stack (outermost first)."""
    frames = []
    if hasattr(tb_or_frame, "tb_frame"):
        tb = tb_or_frame
        while tb is not None:
            frames.append((tb.tb_frame, tb.tb_lineno))
            tb = tb.tb_next
    else:
        frame = tb_or_frame
        while frame is not None:
            frames.append((frame, frame.f_lineno))
            frame = frame.f_back
        frames.reverse()
    return frames


def student_frame(tb_or_frame, *, in_function=False):
    """The innermost line of the student's notebook code, as (cell label, line, source).

    tb_or_frame: a traceback (exc.__traceback__) or a frame (walked up through f_back).
    in_function: only a line inside a function counts (not a cell's top level).
    Lines in helpers, torch or any other file are skipped. None when no cell is involved.

    >>> student_frame(None) is None
    True
    """
    for frame, lineno in reversed(_frames(tb_or_frame)):
        filename = frame.f_code.co_filename
        if not _is_cell(filename):
            continue
        if in_function and frame.f_code.co_name == "<module>":
            continue
        source = linecache.getline(filename, lineno, frame.f_globals).strip()
        return _cell_label(filename), lineno, source
    return None


def where_text(where):
    """"Cell In[4], line 3: Kf = K[::-1, ::-1]" for a student_frame result."""
    label, lineno, source = where
    return f"{label}, line {lineno}: {source}"


def _first_line(message, limit=300):
    line = str(message).strip().split("\n", 1)[0].strip()
    return line if len(line) <= limit else line[: limit - 3] + "..."


def explain_lines(exc, tb=None):
    """explain(exc) as a list of lines: [what was raised, where (if known), hint (if any)]."""
    name = type(exc).__name__
    message = _first_line(exc)
    lines = [f"Your code raised {name}" + (f": {message}" if message else "")]
    tb = tb if tb is not None else exc.__traceback__
    where = student_frame(tb) if tb is not None else None
    if where:
        lines.append(f"  in {where_text(where)}")
    hint = hint_for(name, str(exc))
    if hint:
        lines.append(f"  hint: {hint}")
    return lines


def explain(exc):
    """A few plain lines about `exc`: what was raised, on which line of the student's code, a hint."""
    return "\n".join(explain_lines(exc))
