"""One-glance errors in the student's notebook.

`install()` (called when helpers.check is imported) registers an IPython
custom exception handler in the running kernel. A failing cell then shows:

- a failed check (CheckFailure) or a forbidden call (ForbiddenCall): a red
  "✗ Exercise failed" line and the check's message, no frames, no paths;
- any other error: what was raised, the student's own line and a plain hint
  (helpers.hints), e.g.

      ✗ Your code raised ValueError: step must be greater than zero
        in Cell In[4], line 3: Kf = K[::-1, ::-1]
        hint: tensors cannot be sliced with a negative step such as [::-1]. ...

The cell still ends in an error (an "error" output whose traceback is that
text), so nbgrader still scores a failing test cell 0. `%tb` shows the full
traceback of the last error; `uninstall()`, or the environment variable
HELPERS_FULL_TRACEBACKS=1 before the kernel starts, restores IPython's own
display. Outside IPython `install()` does nothing.
"""
import os
import sys

__all__ = ["install", "render", "uninstall"]

# (module, class name) of the course's own failures, matched by name: the grader may load a
# fresh copy of helpers.check, whose CheckFailure is another class object with the same name.
_COURSE_FAILURES = {("helpers.check", "CheckFailure"): "✗ Exercise failed",
                    ("helpers._guard", "ForbiddenCall"): "✗ Exercise failed: a call this exercise does not allow"}
_RED, _BOLD_RED, _GREEN, _DIM, _RESET = "\x1b[31m", "\x1b[1;31m", "\x1b[32m", "\x1b[2m", "\x1b[0m"
_MAX_MESSAGE_LINES = 12
_MAX_LINE = 400


def _course_failure(etype):
    for klass in getattr(etype, "__mro__", ()):
        header = _COURSE_FAILURES.get((getattr(klass, "__module__", ""), getattr(klass, "__name__", "")))
        if header:
            return header
    return None


def _hidden(frame):
    try:
        return bool(frame.f_locals.get("__tracebackhide__", False))
    except Exception:  # noqa: BLE001
        return False


def _raised_in(tb):
    """(module, function) of the innermost visible frame, when it is not the student's, else None."""
    from helpers.hints import _is_cell

    last = None
    while tb is not None:
        frame = tb.tb_frame
        if not _hidden(frame) or _is_cell(frame.f_code.co_filename):
            last = frame
        tb = tb.tb_next
    if last is None or _is_cell(last.f_code.co_filename):
        return None
    module = last.f_globals.get("__name__") or "a library"
    return module, last.f_code.co_name


def _clip(line):
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def render(etype, value, tb, color=True):
    """The lines a failing cell shows for (etype, value, tb), or None for IPython's default.

    None is returned for syntax errors (IPython's caret display is better) and for errors
    raised outside any notebook cell.
    """
    red, bold_red, green, dim, reset = (_RED, _BOLD_RED, _GREEN, _DIM, _RESET) if color else ("",) * 5
    if isinstance(etype, type) and issubclass(etype, SyntaxError):
        return None
    header = _course_failure(etype)
    if header:
        message = str(value).strip("\n").split("\n")
        if len(message) > _MAX_MESSAGE_LINES:
            message = message[:_MAX_MESSAGE_LINES] + ["  ..."]
        return [f"{bold_red}{header}{reset}"] + [_clip(line) for line in message]

    from helpers.hints import explain_lines, student_frame

    if student_frame(tb) is None:
        return None
    lines = explain_lines(value, tb)
    out = [f"{bold_red}✗ {_clip(lines[0])}{reset}"]
    for line in lines[1:]:
        if line.startswith("  hint:"):
            out.append(f"  {green}hint:{reset}{_clip(line[len('  hint:'):])}")
        else:
            out.append(_clip(line))
    inside = _raised_in(tb)
    if inside:
        module, function = inside
        out.append(f"{dim}  (raised inside {module}.{function}, called from that line; "
                   f"run %tb for the full traceback){reset}")
    return out


def _handler(shell, etype, value, tb, tb_offset=None):
    """IPython custom exception handler: show `render`'s lines as the cell's error output."""
    try:
        sys.last_type, sys.last_value, sys.last_traceback = etype, value, tb  # for %tb, %debug
        if sys.version_info >= (3, 12):
            sys.last_exc = value
        stb = None
        if not getattr(shell, "call_pdb", False):
            color = str(getattr(shell, "colors", "")).lower() != "nocolor"
            stb = render(etype, value, tb, color=color)
        if stb is None:
            if isinstance(etype, type) and issubclass(etype, SyntaxError):
                shell.showsyntaxerror()
            else:
                shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
            return None
        shell._showtraceback(etype, value, stb)
        return None
    except Exception:  # noqa: BLE001 - never hide the student's error behind ours
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset)
        return None


def _shell(shell=None):
    if shell is not None:
        return shell
    if "IPython" not in sys.modules:  # not running inside IPython: nothing to do
        return None
    try:
        return sys.modules["IPython"].get_ipython()
    except Exception:  # noqa: BLE001
        return None


def install(shell=None):
    """Show errors the short way in this IPython kernel. True when installed (or already)."""
    try:
        shell = _shell(shell)
        if shell is None or os.environ.get("HELPERS_FULL_TRACEBACKS"):
            return False
        ours = getattr(shell, "_helpers_feedback_tb", None)
        if getattr(shell, "custom_exceptions", ()) and ours is not None and shell.CustomTB is ours:
            return True
        if getattr(shell, "custom_exceptions", ()):
            return False  # someone else's handler: leave it
        shell.set_custom_exc((Exception,), _handler)
        shell._helpers_feedback_tb = shell.CustomTB
        return True
    except Exception:  # noqa: BLE001 - importing helpers.check must never fail because of this
        return False


def uninstall(shell=None):
    """Back to IPython's own tracebacks in this kernel."""
    shell = _shell(shell)
    if shell is None:
        return False
    ours = getattr(shell, "_helpers_feedback_tb", None)
    if ours is not None and getattr(shell, "CustomTB", None) is ours:
        shell.set_custom_exc((), None)
        shell._helpers_feedback_tb = None
        return True
    return False
