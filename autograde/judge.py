"""The judge: runs graded test cells in the grader's own process (docs/grading.md).

A test cell's source (the instructor's copy, hidden tests included) is executed
here, never in the student's kernel. Names it does not define resolve to the
student's kernel through a `KernelLink`: functions and classes become proxies
(`Remote`) that call into the kernel with plain data; values are copied. So the
verdict, and with it the points, is computed where no student code runs.

    judge = Judge(link)            # link.request(dict) -> reply dict
    outputs, passed = judge.run_test_cell(source, label)
"""
import builtins
import contextlib
import io
import json
import traceback

import nbformat

from helpers import wire

PRELUDE = """
import math
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import helpers
from helpers import check
"""


class StudentCodeError(AssertionError):
    """The student's code raised, or did not answer, during a test."""


class ChannelBroken(RuntimeError):
    """The kernel stopped answering the judge as a kernel does (its handlers were
    replaced?): the submission cannot be graded, and the instructor should look."""


def student_error(kind, message):
    """A StudentCodeError that is also the builtin exception the student's code raised
    (a ValueError stays a ValueError), so a test can expect it with `except ValueError`."""
    builtin = getattr(builtins, kind, None)
    if (isinstance(builtin, type) and issubclass(builtin, Exception)
            and not issubclass(builtin, (OSError, UnicodeError, StopIteration, StopAsyncIteration))
            and builtin not in (Exception, AssertionError)):
        try:
            return type(kind, (StudentCodeError, builtin), {})(message)
        except TypeError:       # an incompatible layout: the plain error will do
            pass
    return StudentCodeError(message)


class KernelLink:
    """Requests to the student's kernel: `send(expression, timeout) -> text or raise`.

    `send` evaluates a Python expression in the kernel and returns the
    text/plain of its value (the executor supplies it)."""

    def __init__(self, send, timeout):
        self.send = send
        self.timeout = timeout

    def request(self, payload):
        expr = f"__import__('helpers.wire', fromlist=['serve']).serve({json.dumps(payload)!r})"
        text = self.send(expr, self.timeout)
        if len(text) > wire.MAX_BYTES:
            raise StudentCodeError("the student's code returned more data than the grader accepts")
        try:
            reply = json.loads(_literal_str(text))
        except ValueError as exc:
            raise StudentCodeError(f"the kernel's reply was not plain data ({exc})") from None
        if not isinstance(reply, dict):
            raise StudentCodeError("the kernel's reply was not plain data")
        return reply


def _literal_str(text):
    """The str whose repr is `text` (IPython's text/plain of a string)."""
    import ast

    value = ast.literal_eval(text)
    if not isinstance(value, str):
        raise ValueError("not a string")
    return value


class Remote:
    """A proxy for an object that lives in the student's kernel."""

    def __init__(self, judge, ref, label):
        object.__setattr__(self, "_judge", judge)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)

    def __call__(self, *args, **kwargs):
        return self._judge.call(self, args, kwargs)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._judge.ask({"op": "getattr", "ref": self._ref.key, "name": name},
                               f"{self._label}.{name}")

    def __iter__(self):
        return iter(self._judge.ask({"op": "list", "ref": self._ref.key}, f"list({self._label})"))

    def __len__(self):
        return self._judge.ask({"op": "len", "ref": self._ref.key}, f"len({self._label})")

    def __getitem__(self, key):
        return self._judge.ask({"op": "getitem", "ref": self._ref.key,
                                "key": self._judge.encode_arg(key)}, f"{self._label}[...]")

    def __repr__(self):
        # The kernel's own repr ("ReLU()", "Sequential(...)"), as plain text.
        return self._ref.text or f"<{self._ref.type_name} from your notebook>"

    @property
    def __class__(self):
        # isinstance(proxy, nn.Module) holds when the kernel's object is a torch class;
        # what the object does is still only ever judged from the data it returns.
        cls = _torch_class(self._ref.type_name)
        return cls if cls is not None else Remote


class StudentNamespace(dict):
    """The judge's globals for test cells. A name the cell did not define is looked
    up in the judge's builtins, then in the student's kernel (cached per cell), then
    among the names earlier test cells defined. The kernel comes first because at
    grading time it holds only what the notebook's own cells defined: a test that
    reads `losses` means the student's `losses`, not a name an earlier test used."""

    def __init__(self, judge):
        super().__init__()
        self._judge = judge
        self._student = {}
        self._earlier = {}

    def __missing__(self, name):
        if hasattr(builtins, name):
            return getattr(builtins, name)
        if name not in self._student:
            try:
                self._student[name] = self._judge.fetch(name)
            except KeyError:
                if name in self._earlier:
                    return self._earlier[name]
                raise
        return self._student[name]

    def new_cell(self, prelude):
        """Start a test cell: what the last cell defined becomes 'earlier'."""
        self._earlier.update(self)
        self.clear()
        self._student.clear()
        exec(prelude, self)  # noqa: S102 - trusted code


class Judge:
    """Executes test cells; every student value comes through `link`."""

    def __init__(self, link):
        self.link = link
        self.forbidden_seen = set()   # every name a `check.forbid` of the current cell named
        self.namespace = StudentNamespace(self)

    # -- what test code calls
    def fetch(self, name):
        reply = self._reply({"op": "get", "name": name}, name)
        if reply.get("missing"):
            raise KeyError(name)
        return self._value(reply, name)

    def ask(self, payload, label):
        return self._value(self._reply(payload, label), label)

    def call(self, remote, args, kwargs):
        from helpers import check

        label = f"{remote._label}({_describe_args(args, kwargs)})"
        payload = {"op": "call", "ref": remote._ref.key,
                   "args": [self.encode_arg(a) for a in args],
                   "kwargs": {str(k): self.encode_arg(v) for k, v in kwargs.items()},
                   "forbid": check.judged_forbidden()}
        reply = self._reply(payload, label)
        value = self._value(reply, label)
        for index, data in (reply.get("changed") or {}).items():
            self._apply_change(args, index, data)
        return value

    def make(self, dotted, args, kwargs):
        payload = {"op": "make", "dotted": str(dotted),
                   "args": [self.encode_arg(a) for a in args],
                   "kwargs": {str(k): self.encode_arg(v) for k, v in kwargs.items()}}
        return self.ask(payload, str(dotted).rsplit(".", 1)[-1])

    def encode_arg(self, value):
        """Judge values as data for the kernel; proxies cross as their reference."""
        if isinstance(value, Remote):
            return {"__ref__": value._ref.key}
        if isinstance(value, (list, tuple)):
            items = [self.encode_arg(v) for v in value]
            return items if isinstance(value, list) else {"__tuple__": items}
        if isinstance(value, dict):
            return {"__dict__": [[self.encode_arg(k), self.encode_arg(v)] for k, v in value.items()]}
        encoded = wire.encode(value, registry := {})
        if registry:
            raise TypeError(f"a test cannot hand a {type(value).__name__} to the student's code; "
                            f"build it with check.make(...) (docs/grading.md)")
        return encoded

    # -- replies
    def _reply(self, payload, label):
        reply = self.link.request(payload)
        raised = reply.get("raised")
        if raised:
            raise student_error(str(raised.get("type", "")), _explain(label, raised))
        return reply

    def _value(self, reply, label):
        try:
            return wire.decode(reply.get("value"), make_ref=lambda ref: Remote(self, ref, _short(label)))
        except wire.WireError as exc:
            raise StudentCodeError(f"{label} returned data the grader cannot read: {exc}") from None

    def _apply_change(self, args, index, data):
        import torch

        try:
            position = int(index)
            old, new = args[position], wire.decode(data)
        except (ValueError, IndexError, wire.WireError):
            return
        if isinstance(old, torch.Tensor) and isinstance(new, torch.Tensor) and new.shape == old.shape:
            with torch.no_grad():
                old.copy_(new.to(old.dtype))
        elif isinstance(old, torch.Tensor):
            with torch.no_grad():    # reshaped in place: any value marks it changed
                old.add_(float("nan")) if old.is_floating_point() else old.add_(1)

    # -- a test cell
    def run_test_cell(self, source, label=""):
        """Execute one test cell; returns (outputs, passed). The outputs are what
        nbgrader reads: printed text, and an error output when the cell failed."""
        from helpers import check

        self.namespace.new_cell(PRELUDE)
        self.forbidden_seen = set()
        printed = io.StringIO()
        error = None
        try:
            with contextlib.redirect_stdout(printed), check.judging(self):
                exec(compile(source, "<test cell>", "exec"), self.namespace)  # noqa: S102
        except ChannelBroken:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes the cell's message
            error = exc
        outputs = []
        text = printed.getvalue()
        if text:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=text[-20000:]))
        if error is not None:
            ename, message = _failure(error, label)
            outputs.append(nbformat.v4.new_output("error", ename=ename, evalue=message,
                                                  traceback=message.splitlines() or [ename]))
        return outputs, error is None


def _failure(exc, label):
    """(ename, message) for a failed test cell: the message only, no test code."""
    from helpers import check

    if isinstance(exc, (check.CheckFailure, check.ForbiddenCall, StudentCodeError)):
        name = type(exc).__name__
        if isinstance(exc, StudentCodeError):
            name = "CheckFailure"
        return name, _clip(str(exc))
    if isinstance(exc, NameError):
        missing = getattr(exc, "name", None) or str(exc)
        return "NameError", (f"{missing!s} is not defined in your notebook: do the exercise that "
                             f"defines it (and run its cell) first.")
    # A test that tripped over an unexpected answer (an AttributeError on a None, ...):
    # say what happened without quoting the test's code.
    frames = traceback.extract_tb(exc.__traceback__)
    where = "the test" if any(f.filename == "<test cell>" for f in frames) else "the grader"
    return type(exc).__name__, _clip(f"{type(exc).__name__} in {where}"
                                     f"{' for ' + label if label else ''}: {exc}. "
                                     f"Check that your answer returns what the exercise asks for "
                                     f"(type, shape, dtype).")


def _explain(label, raised):
    kind = str(raised.get("type", "Error"))[:80]
    message = str(raised.get("message", ""))[:1500]
    if kind in ("ForbiddenCall", "CheckFailure"):
        return message
    if kind == "KeyboardInterrupt":
        return f"{label} did not finish in time (an endless loop, or far too slow?)"
    lines = [f"{label} raised {kind}: {message}"]
    frame = raised.get("frame")
    if isinstance(frame, list) and len(frame) == 3:
        lines.append(f"  in your code ({str(frame[0])[:60]}, line {frame[1]}): {str(frame[2]).strip()[:200]}")
    try:
        from helpers import hints

        hint = hints.hint_for(kind, message)
    except Exception:  # noqa: BLE001 - no hint is better than no message
        hint = None
    if hint:
        lines.append(f"  hint: {hint}")
    return "\n".join(lines)


def _torch_class(type_name):
    """The torch class named `type_name` ("torch.nn.modules.container.Sequential"), or None."""
    import importlib

    module, _, name = type_name.rpartition(".")
    if not module.startswith("torch."):
        return None
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return cls if isinstance(cls, type) else None


def _describe_args(args, kwargs):
    parts = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    text = ", ".join(parts)
    return text if len(text) < 200 else text[:200] + "..."


def _describe(value):
    import torch

    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        return f"<{dtype} tensor of shape {tuple(value.shape)}>"
    if isinstance(value, Remote):
        return repr(value)
    if isinstance(value, (int, float, bool, str, type(None))):
        text = repr(value)
        return text if len(text) < 40 else text[:40] + "..."
    if isinstance(value, (list, tuple)):
        return f"<{type(value).__name__} of {len(value)}>"
    return f"<{type(value).__name__}>"


def _short(label):
    return label.split("(")[0] if len(label) > 60 else label


def _clip(text, lines=12, chars=2000):
    text = str(text)[:chars]
    rows = text.splitlines()
    return "\n".join(rows[:lines] + (["..."] if len(rows) > lines else []))


# ----------------------------------------------------------------- in an executor

def is_graded_test(cell):
    nb = cell.get("metadata", {}).get("nbgrader", {})
    return cell.cell_type == "code" and nb.get("grade") and not nb.get("solution")


class JudgeCells:
    """Mixin for an nbclient executor: graded test cells go to the judge instead of
    the kernel; every other cell runs in the kernel as usual."""

    judge_timeout = 60      # seconds one request to the kernel may take

    def preprocess_cell(self, cell, resources, index):
        if not is_graded_test(cell) or not cell.source.strip():
            return super().preprocess_cell(cell, resources, index)
        if getattr(self, "_judge_for", None) is not self.nb:
            self._judge_for = self.nb
            self._judge = Judge(KernelLink(self._judge_send, self.judge_timeout))
        label = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        outputs, passed = self._judge.run_test_cell(cell.source, label)
        if passed:
            outputs += forbidden_use_outputs(self.nb.cells, index, self._judge.forbidden_seen)
        else:
            outputs = earlier_failure_note(self.nb.cells, index, outputs)
        cell.outputs = outputs
        cell.execution_count = None
        return cell, self.resources

    def _judge_send(self, expression, timeout):
        from nbclient.util import run_sync

        return run_sync(self._async_judge_send)(expression, timeout)

    async def _async_judge_send(self, expression, timeout):
        import time

        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        msg_id = self.kc.execute("", silent=True, store_history=False,
                                 user_expressions={"judge": expression})
        deadline = time.monotonic() + timeout
        interrupted = False
        while True:
            remaining = deadline - time.monotonic()
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=min(1.0, max(0.1, remaining)))
            except Exception:  # noqa: BLE001 - queue.Empty: no reply yet
                if not await self.km.is_alive():
                    raise DeadKernelError("the kernel died while answering the grader") from None
                if time.monotonic() < deadline:
                    continue
                if interrupted:
                    raise CellTimeoutError("the kernel did not answer the grader after an "
                                           "interrupt; it was stopped") from None
                await self.km.interrupt_kernel()
                interrupted, deadline = True, time.monotonic() + 10
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            expressions = msg["content"].get("user_expressions") or {}
            if "judge" not in expressions:
                raise ChannelBroken("the kernel did not answer the grader's requests (did the "
                                    "submission replace the kernel's handlers?)")
            value = expressions["judge"]
            if value.get("status") != "ok":
                raise StudentCodeError(f"the grader could not reach your notebook's answers "
                                       f"({str(value.get('ename', 'error'))[:80]}: "
                                       f"{str(value.get('evalue', ''))[:300]})")
            return value.get("data", {}).get("text/plain", "")


def forbidden_use_outputs(cells, index, forbidden):
    """An error output when the exercise's answers name something its test forbids
    (read from the source by the grader, so no in-kernel trick hides it)."""
    from autograde import answers

    uses = answers.forbidden_uses(cells, index, forbidden)
    if not uses:
        return []
    what, where = uses[0]
    more = f" (and {len(uses) - 1} more)" if len(uses) > 1 else ""
    message = (f"your answer uses {what} ({where}){more}, which this exercise asks you to "
               f"write yourself: build it from indexing, sums and products, or loops.")
    return [nbformat.v4.new_output("error", ename="ForbiddenCall", evalue=message,
                                   traceback=[message])]


def earlier_failure_note(cells, index, outputs):
    """When the failed exercise uses a function of an earlier exercise that failed its own
    test, say so on the error's second line: "fix corr2d first"."""
    from autograde import answers

    failed = []
    for earlier in range(index):
        cell = cells[earlier]
        if is_graded_test(cell) and any(o.get("output_type") == "error" for o in cell.get("outputs", [])):
            failed += sorted(answers.defined_names(cells, earlier))
    culprits = [name for name in dict.fromkeys(failed) if name in answers.used_definitions(cells, index)]
    if not culprits:
        return outputs
    names = ", ".join(culprits)
    note = (f"  note: this answer uses {names}, which failed its own test above: "
            f"fix {names} first, then run this test again.")
    for output in outputs:
        if output.get("output_type") == "error":
            lines = output["evalue"].split("\n")
            output["evalue"] = "\n".join([lines[0], note, *lines[1:]])
            output["traceback"] = output["evalue"].splitlines()
    return outputs


def _judged_execute():
    """nbgrader's Execute with graded test cells judged: what `nbgrader autograde`
    and formgrader's Autograde button use (nbgrader_config.py)."""
    from nbgrader.preprocessors import Execute

    class JudgedExecute(JudgeCells, Execute):
        def preprocess_cell(self, cell, resources, index):
            self.judge_timeout = self.timeout or 60
            return super().preprocess_cell(cell, resources, index)

    JudgedExecute.__module__ = __name__
    return JudgedExecute


JudgedExecute = _judged_execute()
