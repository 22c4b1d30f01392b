"""Plain data between the grader's judge and the student's kernel (docs/grading.md).

The judge never receives an object with behaviour from the student's kernel:
only JSON built from numbers, strings, lists and raw tensor bytes with dtype
and shape. Anything else stays in the kernel, in a registry, and crosses as a
reference `{"__ref__": id}` that the judge wraps in a proxy.

    encode(value, registry) -> JSON-able      (kernel side: results)
    decode(data, refs) -> value               (judge side: strict, size-capped)
    serve(request_json) -> reply_json         (kernel side: one request)

Requests (JSON): {"op": "get", "name"}, {"op": "call", "ref", "args", "kwargs",
"forbid"}, {"op": "make", "dotted", "args", "kwargs"}, {"op": "getattr", "ref",
"name"}, {"op": "list", "ref"}, {"op": "len", "ref"}, {"op": "getitem", "ref", "key"}.
Replies: {"value": ...} or {"raised": {"type", "message", "frame"}} or {"missing": true}.
"""
import base64
import json
import math

MAX_BYTES = 256 * 2**20      # judge side: largest reply it decodes
MAX_ITEMS = 100_000          # judge side: most list/dict items in one reply
_DTYPES = ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
           "int64", "bool", "complex64", "complex128")
_NP_DTYPES = ("float16", "float32", "float64", "int8", "uint8", "int16", "int32", "int64",
              "uint16", "uint32", "uint64", "bool", "complex64", "complex128")


class WireError(ValueError):
    """A reply that is not the plain data it claims to be."""


# ---------------------------------------------------------------- encoding (kernel side)

def encode(value, registry, depth=0):
    """`value` as JSON-able plain data; objects that are not data go into `registry`."""
    import torch

    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**62 else {"__int__": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"__float__": repr(value)}
    if isinstance(value, torch.Tensor):
        return {"__tensor__": _tensor_fields(value)}
    if isinstance(value, torch.dtype):
        return {"__dtype__": str(value).replace("torch.", "")}
    if isinstance(value, torch.device):
        return {"__device__": str(value)}
    if isinstance(value, torch.Size):
        return {"__size__": [int(n) for n in value]}
    if depth < 20:
        if type(value) is list:
            return [encode(v, registry, depth + 1) for v in value]
        if type(value) is tuple:
            return {"__tuple__": [encode(v, registry, depth + 1) for v in value]}
        if type(value) in (dict, __import__("collections").OrderedDict):
            return {"__dict__": [[encode(k, registry, depth + 1), encode(v, registry, depth + 1)]
                                 for k, v in value.items()]}
    numpy = _numpy()
    if numpy is not None:
        if isinstance(value, numpy.ndarray) and value.dtype.name in _NP_DTYPES:
            array = numpy.ascontiguousarray(value)
            return {"__ndarray__": {"dtype": array.dtype.name, "shape": list(array.shape),
                                    "data": base64.b64encode(array.tobytes()).decode()}}
        if isinstance(value, numpy.generic) and value.dtype.name in _NP_DTYPES:
            return {"__npscalar__": [value.dtype.name, encode(value.item(), registry, depth + 1)]}
    key = str(len(registry))
    registry[key] = value
    return {"__ref__": key, "type": _type_name(value), "repr": _short_repr(value),
            "callable": callable(value)}


def _tensor_fields(t):
    import torch

    kind = type(t).__name__
    data = t.detach()
    if data.layout != torch.strided:
        data = data.to_dense()
    device = str(data.device)
    data = data.cpu().contiguous()
    dtype = str(data.dtype).replace("torch.", "")
    if dtype == "bfloat16":
        raw = data.view(torch.int16).numpy().tobytes()
    else:
        raw = data.numpy().tobytes()
    return {"dtype": dtype, "shape": list(data.shape), "data": base64.b64encode(raw).decode(),
            "requires_grad": bool(t.requires_grad), "kind": kind, "device": device}


def _type_name(value):
    t = type(value)
    return f"{t.__module__}.{t.__qualname__}" if t.__module__ != "builtins" else t.__qualname__


def _short_repr(value, limit=1000):
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a student's __repr__ may fail
        text = f"<{_type_name(value)} object>"
    text = str(text)
    return text if len(text) <= limit else text[:limit] + "..."


def _numpy():
    try:
        import numpy
    except ImportError:  # pragma: no cover
        return None
    return numpy


# ---------------------------------------------------------------- decoding (judge side)

class Reference:
    """A handle on an object that stays in the student's kernel (judge side)."""

    def __init__(self, key, type_name, text, is_callable):
        self.key, self.type_name, self.text, self.is_callable = key, type_name, text, is_callable


def decode(data, make_ref=None, _budget=None):
    """Plain data back into Python values, checking every field; references become
    `make_ref(Reference)` (or the Reference itself)."""
    import torch

    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0:
        raise WireError("too many items in the reply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, make_ref, budget) for v in data]
    if not isinstance(data, dict) or len(data) < 1:
        raise WireError(f"unexpected {type(data).__name__} in the reply")
    if "__tensor__" in data:
        return _decode_tensor(data["__tensor__"])
    if "__ndarray__" in data:
        return _decode_ndarray(data["__ndarray__"])
    if "__tuple__" in data:
        return tuple(decode(_expect(data["__tuple__"], list), make_ref, budget))
    if "__dict__" in data:
        pairs = _expect(data["__dict__"], list)
        out = {}
        for pair in pairs:
            key, value = _expect(pair, list)
            key = decode(key, make_ref, budget)
            if not isinstance(key, (str, int, float, bool, tuple, type(None))):
                raise WireError("a dict key that is not plain data")
            out[key] = decode(value, make_ref, budget)
        return out
    if "__int__" in data:
        return int(_expect(data["__int__"], str))
    if "__float__" in data:
        text = _expect(data["__float__"], str)
        if text not in ("nan", "inf", "-inf"):
            raise WireError(f"not a special float: {text[:20]!r}")
        return float(text)
    if "__dtype__" in data:
        name = _expect(data["__dtype__"], str)
        if name not in _DTYPES:
            raise WireError(f"unknown dtype {name[:20]!r}")
        return getattr(torch, name)
    if "__device__" in data:
        return torch.device(_expect(data["__device__"], str)[:40])
    if "__size__" in data:
        return torch.Size([int(_expect(n, int)) for n in _expect(data["__size__"], list)])
    if "__npscalar__" in data:
        name, value = _expect(data["__npscalar__"], list)
        numpy = _numpy()
        if name not in _NP_DTYPES or not isinstance(value, (bool, int, float)):
            raise WireError("a malformed NumPy scalar")
        return numpy.dtype(name).type(value)
    if "__ref__" in data:
        ref = Reference(_expect(data["__ref__"], str)[:20], str(data.get("type", "object"))[:200],
                        str(data.get("repr", ""))[:1000], bool(data.get("callable")))
        return make_ref(ref) if make_ref else ref
    raise WireError(f"unexpected fields {sorted(data)[:3]} in the reply")


def _expect(value, kind):
    if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
        raise WireError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def _raw(fields, dtypes):
    dtype = _expect(fields.get("dtype"), str)
    if dtype not in dtypes:
        raise WireError(f"unsupported dtype {dtype[:20]!r}")
    shape = [_expect(n, int) for n in _expect(fields.get("shape"), list)]
    if any(n < 0 for n in shape) or len(shape) > 8:
        raise WireError("a malformed shape")
    raw = base64.b64decode(_expect(fields.get("data"), str), validate=True)
    return dtype, shape, raw


def _decode_tensor(fields):
    import torch

    dtype, shape, raw = _raw(_expect(fields, dict), _DTYPES)
    storage = torch.int16 if dtype == "bfloat16" else getattr(torch, dtype)
    itemsize = torch.empty((), dtype=storage).element_size()
    if len(raw) != math.prod(shape) * itemsize:
        raise WireError("tensor bytes do not match its shape and dtype")
    flat = torch.frombuffer(bytearray(raw), dtype=storage) if raw else torch.empty(0, dtype=storage)
    out = flat.reshape(shape).clone()
    if dtype == "bfloat16":
        out = out.view(torch.bfloat16)
    if fields.get("requires_grad") is True and out.is_floating_point():
        out.requires_grad_(True)
    return out


def _decode_ndarray(fields):
    numpy = _numpy()
    dtype, shape, raw = _raw(_expect(fields, dict), _NP_DTYPES)
    if len(raw) != math.prod(shape) * numpy.dtype(dtype).itemsize:
        raise WireError("array bytes do not match its shape and dtype")
    return numpy.frombuffer(raw, dtype=dtype).reshape(shape).copy()


# ---------------------------------------------------------------- the kernel's side

_REGISTRY = {}


def serve(request_json):
    """Answer one judge request in the student's kernel; returns a JSON string."""
    import sys

    request = json.loads(request_json)
    try:
        reply = _answer(request, sys.modules["__main__"].__dict__)
    except BaseException as exc:  # noqa: BLE001 - everything goes back as data
        reply = {"raised": _raised(exc)}
    try:
        return json.dumps(reply)
    except (TypeError, ValueError) as exc:
        return json.dumps({"raised": {"type": "TypeError", "message": f"unencodable reply: {exc}",
                                      "frame": None}})


def _answer(request, user_ns):
    import contextlib
    import io

    op = request["op"]
    if op == "get":
        name = request["name"]
        ns = _user_namespace(user_ns)
        if name not in ns:
            return {"missing": True}
        return {"value": encode(ns[name], _REGISTRY)}
    if op == "make":
        from helpers import check

        args, kwargs = _decode_args(request)
        return {"value": encode(check.make(request["dotted"], *args, **kwargs), _REGISTRY)}
    target = _REGISTRY[request["ref"]]
    if op == "getattr":
        return {"value": encode(getattr(target, request["name"]), _REGISTRY)}
    if op == "list":
        items = []
        for item in target:
            items.append(item)
            if len(items) > 10_000:
                raise ValueError("more than 10,000 items")
        return {"value": encode(items, _REGISTRY)}
    if op == "len":
        return {"value": len(target)}
    if op == "getitem":
        return {"value": encode(target[_decode_kernel(request["key"])], _REGISTRY)}
    if op == "call":
        args, kwargs = _decode_args(request)
        versions = [getattr(a, "_version", None) for a in args]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed), _forbidden(request.get("forbid") or []):
            result = target(*args, **kwargs)
        changed = {str(i): encode(a, _REGISTRY) for i, (a, v) in enumerate(zip(args, versions))
                   if v is not None and getattr(a, "_version", None) != v}
        return {"value": encode(result, _REGISTRY), "changed": changed,
                "printed": printed.getvalue()[-2000:]}
    raise ValueError(f"unknown op {op!r}")


def _user_namespace(user_ns):
    try:
        return get_ipython().user_ns  # noqa: F821 - defined inside IPython
    except NameError:
        return user_ns


def _decode_args(request):
    args = [_decode_kernel(a) for a in request.get("args", [])]
    kwargs = {k: _decode_kernel(v) for k, v in request.get("kwargs", {}).items()}
    return args, kwargs


def _decode_kernel(data):
    """Judge data into kernel values: as `decode`, references looked up here."""
    return decode(data, make_ref=lambda ref: _REGISTRY[ref.key], _budget=[10**9])


def _forbidden(names):
    """The kernel's tripwires for the call (a self-check; the sandbox is the wall)."""
    from helpers import check

    return check.forbid(*(_resolve(n) for n in names))


def _resolve(name):
    """A dotted torch name back to the function; helpers names stay strings."""
    if not name.startswith("torch."):
        return name
    import importlib

    parts = name.split(".")
    obj = importlib.import_module("torch")
    for part in parts[1:]:
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return name
    return obj


def _raised(exc):
    """What the student's code raised, as data: type, message, their own line."""
    frame = None
    try:
        from helpers import hints

        frame = hints.student_frame(exc.__traceback__)
    except Exception:  # noqa: BLE001 - the frame is a nicety
        frame = None
    return {"type": type(exc).__name__, "message": str(exc)[:2000],
            "frame": list(frame) if frame else None}
