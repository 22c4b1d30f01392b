"""Readable assertions for the test cells: a failure reads like a teacher's note.

    from helpers import check
    check.close(out, expected, name="corr2d(X, K)")      # tensors, numbers
    check.equal(conv_output_size(7, 3), 5, name="conv_output_size(7, 3)")
    check.shape(out, (10, 31, 31), name="conv2d(X, W)")
    check.tensor(out, name="pad2d(X, 1)")
    with check.forbid("corr2d", F.conv2d, torch.conv2d):  # the tripwire
        out = corr2d(X, K)

Each check returns None (a test cell's last value would be read by nbgrader
as partial credit) and raises `CheckFailure`, an AssertionError, whose message
says what was expected, what came, and the likely cause:

    corr2d(X, K): 2 of 4 values are wrong.
      expected [[19, 25], [37, 43]]
      got      [[19, 25], [37, 42]]
      largest difference at index (1, 1): expected 43, got 42

`mistakes={description: wrong_value}` names the mistakes a chapter warns
about: when the answer matches `wrong_value`, the message says
"likely cause: <description>".

The comparisons never call torch.allclose, torch.isclose, torch.equal,
torch.testing.assert_close or numpy.allclose: every torch function used here
is captured when this module is imported, so a student who monkeypatches
those later cannot make a wrong answer pass.
"""
import itertools
import math
import numbers

import torch

import contextlib

from helpers import _guard
from helpers._guard import ForbiddenCall
from helpers import feedback as _feedback; _feedback.install()  # short error display in notebooks
from helpers import progress as _progress; _progress.install()  # the chapter's progress table

__all__ = ["CheckFailure", "ForbiddenCall", "close", "equal", "forbid", "make", "shape", "tensor"]

# Captured at import: later monkeypatching of torch cannot change them.
_Tensor = torch.Tensor
_Size = torch.Size
_is_tensor = torch.is_tensor
_as_tensor = torch.as_tensor
_abs = torch.abs
_sub = torch.sub
_mul = torch.mul
_add = torch.add
_gt = torch.gt
_eq = torch.eq
_isnan = torch.isnan
_isinf = torch.isinf
_isfinite = torch.isfinite
_logical_and = torch.logical_and
_logical_or = torch.logical_or
_logical_not = torch.logical_not
_where = torch.where
_sum = torch.sum
_argmax = torch.argmax
_amax = torch.amax
_full_like = torch.full_like
_float64 = torch.float64
_int64 = torch.int64
_bool = torch.bool
_t_detach = torch.Tensor.detach
_t_to = torch.Tensor.to
_t_cpu = torch.Tensor.cpu
_t_tolist = torch.Tensor.tolist
_t_item = torch.Tensor.item
_t_reshape = torch.Tensor.reshape
_t_permute = torch.Tensor.permute
_t_transpose = torch.Tensor.transpose
_t_numel = torch.Tensor.numel
_t_dim = torch.Tensor.dim
_t_is_complex = torch.Tensor.is_complex
_t_to_dense = torch.Tensor.to_dense
_getitem = torch.Tensor.__getitem__

try:  # NumPy is optional here: only used to recognise arrays.
    import numpy as _np

    _ndarray = _np.ndarray
    _np_generic = _np.generic
    _np_bool = _np.bool_
    _np_integer = _np.integer
    _np_floating = _np.floating
except ImportError:  # pragma: no cover
    _ndarray = _np_generic = _np_bool = _np_integer = _np_floating = ()

_SHOW_ALL = 12      # show every value of tensors up to this size
_OFF_BY_ONE = ("check the +1 in floor((n + 2p - f)/s) + 1, the end of a range(), and the padding "
               "(p zeros on each side, and none where none is asked)")


class CheckFailure(AssertionError):
    """A test cell's check failed; the message explains what and why."""


# ---------------------------------------------------------------- formatting

def _num(x):
    """A number, short: 19, 0.333333, nan, True."""
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, numbers.Integral):
        return str(int(x))
    if isinstance(x, numbers.Real):
        x = float(x)
        if math.isnan(x) or math.isinf(x):
            return str(x)
        if x == int(x) and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.6g}"
    if isinstance(x, numbers.Complex):
        return f"{complex(x):.6g}"
    return repr(x)


def _nested(v):
    if isinstance(v, list):
        return "[" + ", ".join(_nested(u) for u in v) + "]"
    return _num(v)


def _shape_str(s):
    s = tuple(int(d) for d in s)
    return "(" + ", ".join(map(str, s)) + ("," if len(s) == 1 else "") + ")"


def _index_str(idx):
    return "(" + ", ".join(map(str, idx)) + ")" if len(idx) != 1 else f"[{idx[0]}]"


def _preview(t):
    """All values of a small tensor, or its shape and first few values."""
    t = _t_cpu(_t_detach(t))
    n = _t_numel(t)
    if n <= _SHOW_ALL:
        return _nested(_t_tolist(t))
    first = _t_tolist(_t_reshape(t, (-1,)))[:4]
    return f"tensor of shape {_shape_str(t.shape)}, starting {', '.join(map(_num, first))}, ..."


def _type_name(x):
    if x is None:
        return "None"
    if isinstance(x, _ndarray):
        return f"a NumPy array of shape {_shape_str(x.shape)}"
    if isinstance(x, bool):
        return f"the bool {x}"
    if isinstance(x, _Size):
        return f"torch.Size {_shape_str(x)}"
    if isinstance(x, (list, tuple)):
        kind = "list" if isinstance(x, list) else "tuple"
        return f"a {kind} of length {len(x)}"
    if isinstance(x, numbers.Number):
        shown = repr(float(x)) if isinstance(x, float) else _num(x)
        return f"a Python {type(x).__name__} ({shown})"
    if isinstance(x, str):
        return f"the string {x!r}"
    if _is_tensor(x):
        return f"a tensor of shape {_shape_str(x.shape)}, dtype {_dtype_str(x.dtype)}"
    return f"a {type(x).__module__}.{type(x).__qualname__}"


def _dtype_str(d):
    return str(d).replace("torch.", "")


# ---------------------------------------------------------------- type checks

def _not_a_tensor(actual, name):
    """Message when `actual` is not a torch.Tensor, else None."""
    if _is_tensor(actual):
        return None
    if actual is None:
        return (f"{name}: expected a torch.Tensor, got None.\n"
                f"  Did your function `return` its result?")
    got = _type_name(actual)
    if isinstance(actual, _ndarray):
        hint = ("Keep the computation in torch (torch.zeros, torch.stack, ...), "
                "or convert with torch.from_numpy(...).")
    elif isinstance(actual, (list, tuple)):
        hint = "Build the result as a tensor (torch.zeros(...) then fill it, or torch.stack / torch.tensor)."
    elif isinstance(actual, numbers.Number):
        hint = "Return the tensor itself, not a single number taken out of it (.item(), float(...))."
    else:
        hint = "Return a torch.Tensor."
    return f"{name}: expected a torch.Tensor, got {got}.\n  {hint}"


def _to_f64(t):
    t = _t_cpu(_t_detach(t))
    if t.layout != torch.strided:
        t = _t_to_dense(t)
    if _t_is_complex(t):
        return _t_to(t, torch.complex128)
    return _t_to(t, _float64)


def _expected_tensor(expected):
    if _is_tensor(expected):
        return _t_cpu(_t_detach(expected))
    return _as_tensor(expected)


def _kind(dtype):
    if dtype == _bool:
        return "bool"
    if dtype.is_complex:
        return "complex"
    if dtype.is_floating_point:
        return "float"
    return "int"


# ---------------------------------------------------------------- comparison

def _bad_mask(a, e, rtol, atol):
    """Entries of a (float64) that are not close to e (float64); NaN equals NaN."""
    diff = _abs(_sub(a, e))
    tol = _add(_mul(_abs(e), rtol), atol)
    finite = _logical_and(_isfinite(a), _isfinite(e))
    both_nan = _logical_and(_isnan(a), _isnan(e))
    same_special = _logical_or(_eq(a, e), both_nan)          # inf == inf, nan/nan
    return _where(finite, _gt(diff, tol), _logical_not(same_special)), diff


def _matches(a, e, rtol, atol):
    """a, e: float64 tensors (or anything convertible). Same shape and close."""
    try:
        # Python numbers straight to float64: as_tensor would round them through float32.
        a = _to_f64(a) if _is_tensor(a) else _as_tensor(a, dtype=_float64)
        e = _to_f64(e) if _is_tensor(e) else _as_tensor(e, dtype=_float64)
    except (TypeError, ValueError, RuntimeError):
        return False
    if tuple(a.shape) != tuple(e.shape):
        return False
    if _t_numel(a) == 0:
        return True
    bad, _ = _bad_mask(a, e, rtol, atol)
    return not bool(_t_item(_sum(bad)))


def _unravel(flat, shape):
    idx = []
    for d in reversed(tuple(shape)):
        idx.append(flat % d)
        flat //= d
    return tuple(reversed(idx))


def _value_at(t, idx):
    return _t_item(_getitem(t, idx)) if idx else _t_item(t)


def _mistake_cause(actual, mistakes, rtol, atol):
    """The description of the first mistake whose wrong value `actual` matches."""
    for description, wrong in (mistakes or {}).items():
        if _matches(actual, wrong, rtol, atol):
            return description
    return None


def _mistake_with_shape(actual_shape, mistakes):
    """Descriptions of the mistakes whose wrong value has `actual_shape`."""
    found = []
    for description, wrong in (mistakes or {}).items():
        s = getattr(wrong, "shape", None)
        if s is not None and tuple(s) == tuple(actual_shape):
            found.append(description)
    return found


def _shape_diagnosis(actual, expected, name, mistakes, rtol, atol):
    """Message for a tensor whose shape differs from the expected one."""
    sa, se = tuple(actual.shape), tuple(expected.shape)
    head = f"{name}: wrong shape.\n  expected shape {_shape_str(se)}\n  got shape      {_shape_str(sa)}"

    cause = _mistake_cause(actual, mistakes, rtol, atol)
    if cause:
        return f"{head}\n  likely cause: {cause}"

    a = _to_f64(actual)
    e = _to_f64(expected)
    numel_same = _t_numel(a) == _t_numel(e)
    # Dimensions in another order (a transpose when reversed).
    if len(sa) == len(se) and sorted(sa) == sorted(se) and 2 <= len(sa) <= 5:
        reverse = tuple(range(len(sa) - 1, -1, -1))
        for perm in itertools.permutations(range(len(sa))):
            if tuple(sa[i] for i in perm) != se:
                continue
            if _matches(_t_permute(a, perm), e, rtol, atol):
                if perm == reverse:
                    return (f"{head}\n  your result is the transpose of the expected one "
                            f"(rows and columns swapped): check the order of your indices or loops.")
                return (f"{head}\n  the values are right but the dimensions are in the wrong "
                        f"order: .permute{perm} of your result gives the expected one.")
        return (f"{head}\n  the same sizes in a different order: check the order of the "
                f"dimensions (images are (C, H, W), batches (N, C, H, W)).")
    # A missing or extra dimension of size 1.
    if [d for d in sa if d != 1] == [d for d in se if d != 1]:
        right = " (the values are right)" if _matches(_t_reshape(a, se), e, rtol, atol) else ""
        extra = "an extra" if len(sa) > len(se) else "a missing"
        return (f"{head}\n  {extra} dimension of size 1{right}: "
                f"check squeeze/unsqueeze, or a batch or channel dimension.")
    if numel_same and len(sa) != len(se):
        right = " and the values are right once reshaped" if _matches(_t_reshape(a, se), e, rtol, atol) else ""
        return (f"{head}\n  the same number of elements{right}: check a reshape, view or flatten.")
    lines = [head]
    if len(sa) == len(se):
        off = [(ax, sa[ax] - se[ax]) for ax in range(len(sa)) if sa[ax] != se[ax]]
        parts = [f"axis {ax} is {sa[ax]} instead of {se[ax]} ({d:+d})" for ax, d in off]
        lines.append("  " + "; ".join(parts) + ".")
        if any(abs(d) == 1 for _, d in off):
            lines.append(f"  Off by one: {_OFF_BY_ONE}.")
        else:
            lines.append("  For a convolution or pooling output, check floor((n + 2p - f)/s) + 1: "
                         "padding adds p on each side (2p per axis) and the stride divides.")
    else:
        lines.append(f"  {len(sa)} dimensions instead of {len(se)}.")
    same_shape = _mistake_with_shape(sa, mistakes)
    if len(same_shape) == 1:
        lines.append(f"  That is the shape you get when: {same_shape[0]}")
    return "\n".join(lines)


def _nonfinite_diagnosis(a, e, name):
    """Message when `a` has NaN or inf where `e` has none, else None."""
    for test, what in ((_isnan, "NaN"), (_isinf, "inf")):
        extra = _logical_and(test(a), _logical_not(test(e)))
        count = int(_t_item(_sum(extra)))
        if count:
            flat = int(_t_item(_argmax(_t_to(_t_reshape(extra, (-1,)), _int64))))
            idx = _unravel(flat, a.shape)
            where = f" (first at index {_index_str(idx)})" if idx else ""
            cause = ("uninitialised memory (torch.empty), a division by zero, or a log/sqrt "
                     "of a non-positive number" if what == "NaN"
                     else "a division by zero, or an overflow (exp of a large number)")
            return (f"{name}: {count} value{'s' if count > 1 else ''} {'are' if count > 1 else 'is'} "
                    f"{what}{where}, where the expected values are finite.\n  Likely cause: {cause}.")
    return None


def _value_diagnosis(actual, expected, name, mistakes, rtol, atol, exact):
    """Message for a same-shape tensor whose values are wrong, else None."""
    a, e = _to_f64(actual), _to_f64(expected)
    if exact:
        rtol = atol = 0.0
    bad, diff = _bad_mask(a, e, rtol, atol)
    count = int(_t_item(_sum(bad)))
    if count == 0:
        return None
    total = _t_numel(a)
    cause = _mistake_cause(actual, mistakes, rtol, atol)

    lines = [f"{name}: {count} of {total} value{'s are' if total > 1 else ' is'} wrong"
             + ("." if exact else f" (tolerance rtol={rtol:g}, atol={atol:g}).")]
    if total <= _SHOW_ALL:
        lines += [f"  expected {_preview(expected)}", f"  got      {_preview(actual)}"]
    score = _where(bad, _where(_isfinite(diff), diff, _full_like(diff, math.inf)),
                   _full_like(diff, -1.0))
    flat = int(_t_item(_argmax(_t_reshape(score, (-1,)))))
    idx = _unravel(flat, a.shape)
    at = f" at index {_index_str(idx)}" if idx else ""
    lines.append(f"  largest difference{at}: expected {_num(_value_at(e, idx))}, "
                 f"got {_num(_value_at(a, idx))}")
    if cause:
        lines.append(f"  likely cause: {cause}")
        return "\n".join(lines)
    if _lost_float64_precision(actual, expected, a, e):
        lines[-1] = (f"  largest difference{at}: expected {_value_at(e, idx)!r}, "
                     f"got {_value_at(a, idx)!r}")
        lines.append("  likely cause: the values lost float64 precision (they agree only to about "
                     "7 digits, float32's): the computation went through float32 somewhere, e.g. an "
                     "output made with torch.zeros(...) or torch.tensor(...) without dtype=X.dtype.")
        return "\n".join(lines)
    hint = _value_pattern(a, e, bad, rtol, atol)
    if hint:
        lines.append(f"  {hint}")
    return "\n".join(lines)


def _lost_float64_precision(actual, expected, a, e):
    """float64 expected, and the answer right to float32's precision only."""
    if getattr(expected, "dtype", None) != _float64 or getattr(actual, "dtype", None) != _float64:
        return False
    scale = float(_t_item(_amax(_abs(e)))) if _t_numel(e) else 0.0
    return _matches(a, e, 1e-5, 1e-6 * max(scale, 1e-30))


def _value_pattern(a, e, bad, rtol, atol):
    """A recognisable pattern in wrong values: transposed, scaled, shifted, edges."""
    tol_r, tol_a = max(rtol, 1e-9), max(atol, 1e-12)
    if _t_dim(a) >= 2 and a.shape[-1] == a.shape[-2] and a.shape[-1] > 1:
        if _matches(_t_transpose(a, -1, -2), e, tol_r, tol_a):
            return ("your result is the transpose of the expected one (rows and columns "
                    "swapped): check the order of your indices or loops.")
    if not bool(_t_item(_sum(_logical_not(_isfinite(a))))) and _t_numel(a) > 1:
        k = int(_t_item(_argmax(_t_reshape(_abs(e), (-1,)))))
        ek, ak = _t_item(_t_reshape(e, (-1,))[k]), _t_item(_t_reshape(a, (-1,))[k])
        if ek != 0 and math.isfinite(ek):
            c = ak / ek
            if c != 1 and _matches(a, _mul(e, c), tol_r, tol_a):
                if abs(c + 1) < 1e-9:
                    return "every value has the wrong sign: is a minus sign flipped?"
                if c == 0:
                    return "every value is 0: was the result computed but not stored in the output?"
                return (f"every value is {_num(c)} times the expected one: a missing or extra "
                        f"scale factor (dividing by the wrong count?).")
        d = _t_item(_t_reshape(_sub(a, e), (-1,))[k])
        if d != 0 and _matches(_sub(a, d), e, tol_r, tol_a):
            return (f"every value is off by the same amount ({_num(d)}): a missing or extra "
                    f"constant (a bias term?).")
    if _t_dim(a) >= 2 and a.shape[-1] >= 3 and a.shape[-2] >= 3:
        interior = _getitem(bad, (Ellipsis, slice(1, -1), slice(1, -1)))
        if not bool(_t_item(_sum(interior))):
            return ("only values on the border are wrong: check the edges (padding with "
                    "zeros, the first/last window, count_include_pad for average pooling).")
    return None


def _tensor_message(actual, expected, name, mistakes, rtol, atol, exact, check_dtype):
    """Full diagnosis for tensor `actual` against tensor `expected`, else None."""
    if tuple(actual.shape) != tuple(expected.shape):
        return _shape_diagnosis(actual, expected, name, mistakes, rtol, atol)
    if _t_numel(actual) == 0:
        return None
    a, e = _to_f64(actual), _to_f64(expected)
    msg = _nonfinite_diagnosis(a, e, name)
    if msg:
        cause = _mistake_cause(actual, mistakes, rtol, atol)
        return msg + (f"\n  likely cause: {cause}" if cause else "")
    if check_dtype and actual.dtype != expected.dtype:
        ka, ke = _kind(actual.dtype), _kind(expected.dtype)
        values_ok = _value_diagnosis(actual, expected, name, None, rtol, atol, exact) is None
        head = (f"{name}: wrong dtype: expected {_dtype_str(expected.dtype)}, "
                f"got {_dtype_str(actual.dtype)}"
                + (" (the values themselves are right)." if values_ok else "."))
        if ke == "float" and ka in ("int", "bool"):
            hint = ("Your output holds integers: an output tensor created from an integer "
                    "tensor (torch.zeros_like on ints, torch.tensor of ints) truncates every "
                    "value. Create it with dtype=X.dtype or a float dtype.")
        elif ke in ("int", "bool") and ka == "float":
            hint = ("Expected integers: use // for integer division, or .long() / "
                    "dtype=torch.long where you build the result.")
        elif ke == ka == "float":
            hint = (f"Keep the input's dtype: create the output with dtype=X.dtype "
                    f"(torch.zeros(..., dtype=X.dtype)) and avoid NumPy, whose default is "
                    f"float64.")
        else:
            hint = f"Create the result with dtype={expected.dtype}."
        msg = f"{head}\n  {hint}"
        if not values_ok:
            cause = _mistake_cause(actual, mistakes, rtol, atol)
            if cause:
                msg += f"\n  likely cause of the wrong values: {cause}"
        return msg
    return _value_diagnosis(actual, expected, name, mistakes, rtol, atol, exact)


def _fail(msg):
    __tracebackhide__ = True  # IPython and pytest leave this frame out of tracebacks
    raise CheckFailure(_cause_first(msg))


def _cause_first(msg):
    """The likely cause right under the first line: what a student reads at a glance."""
    lines = msg.split("\n")
    causes = [line for line in lines[1:] if line.lstrip().startswith("likely cause")]
    rest = [line for line in lines[1:] if line not in causes]
    return "\n".join([lines[0], *causes, *rest])


# ---------------------------------------------------------------- public API

def close(actual, expected, name="output", *, rtol=1e-5, atol=1e-6, mistakes=None, dtype=True):
    """Check that `actual` is close to `expected` (a tensor or a number).

    Compared elementwise in float64: |actual - expected| <= atol + rtol * |expected|;
    NaN matches NaN, inf matches inf of the same sign.

    actual: what the student's code produced.
    expected: a torch.Tensor (then actual must be a tensor of the same shape
        and, if `dtype` is true, of the same dtype), or a Python number (then
        actual may be a number or a one-element tensor), or a list / NumPy array
        (compared as values, dtype not checked).
    name: how the message refers to the result, e.g. "corr2d(X, K)".
    mistakes: {description: wrong_value}; when actual matches wrong_value the
        message says "likely cause: <description>". Describe the mistake, not
        the symptom: "the kernel is flipped: that is convolution".
    dtype: set False to accept any dtype.

    Raises CheckFailure (an AssertionError) with a short explanation; returns None.

    >>> close(torch.tensor([[19., 25], [37, 43]]), torch.tensor([[19., 25], [37, 43]]))
    >>> close(0.3333333, 1 / 3)
    >>> close(torch.tensor([1., 2.]), torch.tensor([1., 3.]), name="f(x)")
    Traceback (most recent call last):
    ...
    helpers.check.CheckFailure: f(x): 1 of 2 values are wrong (tolerance rtol=1e-05, atol=1e-06).
      expected [1, 3]
      got      [1, 2]
      largest difference at index [1]: expected 3, got 2
    """
    __tracebackhide__ = True
    if not _is_tensor(expected) and isinstance(expected, numbers.Number) and not isinstance(expected, bool):
        msg = _close_number(actual, expected, name, rtol, atol, mistakes)
    else:
        msg = _not_a_tensor(actual, name)
        if msg is None:
            check_dtype = dtype and _is_tensor(expected)
            msg = _tensor_message(actual, _expected_tensor(expected), name, mistakes,
                                  rtol, atol, False, check_dtype)
    if msg:
        _fail(msg)


def _close_number(actual, expected, name, rtol, atol, mistakes):
    if actual is None:
        return (f"{name}: expected a number, got None.\n"
                f"  Did your function `return` its result?")
    if _is_tensor(actual):
        if _t_numel(actual) != 1:
            return (f"{name}: expected a single number ({_num(expected)}), got a tensor of "
                    f"shape {_shape_str(actual.shape)}.")
        value = _t_item(_t_reshape(_to_f64(actual), (-1,))[0])
    elif isinstance(actual, numbers.Number) and not isinstance(actual, (bool, _np_bool)):
        value = complex(actual) if isinstance(actual, complex) else float(actual)
    else:
        return f"{name}: expected a number ({_num(expected)}), got {_type_name(actual)}."
    if isinstance(value, complex) or not _matches(_as_tensor(value, dtype=_float64),
                                                   _as_tensor(float(expected), dtype=_float64),
                                                   rtol, atol):
        msg = f"{name}: expected {_num(expected)}, got {_num(value)}."
        cause = _mistake_cause(_as_tensor(value, dtype=_float64), mistakes, rtol, atol) \
            if not isinstance(value, complex) else None
        if cause:
            msg += f"\n  likely cause: {cause}"
        elif isinstance(expected, numbers.Integral) and abs(value - expected) == 1:
            msg += f"\n  Off by one: {_OFF_BY_ONE}."
        return msg
    return None


def equal(actual, expected, name="answer", *, mistakes=None):
    """Check that `actual` equals `expected` exactly.

    For ints, floats given as exact values, bools, strings, tuples / lists /
    torch.Size of ints (a tuple, a list and a torch.Size with the same items
    are equal: shape answers may be written either way), and integer or bool
    tensors (same shape, same kind of dtype, equal values).
    An int expected must come as an int (not 31.0, not a tensor); a bool as a bool.

    mistakes: {description: wrong_value}, as in `close`.
    Raises CheckFailure (an AssertionError); returns None.

    >>> equal(5, 5)
    >>> equal([10, 31, 31], (10, 31, 31))
    >>> equal(32, 31, name="conv_output_size(64, 6, 1, 2)")
    Traceback (most recent call last):
    ...
    helpers.check.CheckFailure: conv_output_size(64, 6, 1, 2): expected 31, got 32.
      Off by one: check the +1 in floor((n + 2p - f)/s) + 1, the end of a range(), and the padding (p zeros on each side, and none where none is asked).
    """
    __tracebackhide__ = True
    msg = _equal_message(actual, expected, name, mistakes)
    if msg:
        _fail(msg)


def _is_seq(x):
    return isinstance(x, (list, tuple, _Size))


def _same(actual, expected):
    """Exact equality with the type rules of `equal` (no messages)."""
    return _equal_message(actual, expected, "x", None) is None


def _equal_message(actual, expected, name, mistakes):
    msg = _equal_core(actual, expected, name)
    if msg and mistakes:
        for description, wrong in mistakes.items():
            try:
                hit = _equal_core(actual, wrong, name) is None
            except Exception:
                hit = False
            if hit:
                # keep the first line (what was expected, what came), add the cause
                return msg.split("\n")[0] + f"\n  likely cause: {description}"
    return msg


def _equal_core(actual, expected, name):
    if actual is None and expected is not None:
        return (f"{name}: expected {_describe_expected(expected)}, got None.\n"
                f"  Did your function `return` its result? (Or is the answer still unassigned?)")
    if _is_tensor(expected):
        msg = _not_a_tensor(actual, name)
        if msg:
            return msg
        exp = _t_cpu(_t_detach(expected))
        if tuple(actual.shape) == tuple(exp.shape) and _kind(actual.dtype) != _kind(exp.dtype):
            return _tensor_message(actual, exp, name, None, 0.0, 0.0, True, True)
        return _tensor_message(actual, exp, name, None, 0.0, 0.0, True, False)
    if isinstance(expected, (bool, _np_bool)):
        if isinstance(actual, (bool, _np_bool)):
            if bool(actual) == bool(expected):
                return None
            return f"{name}: expected {bool(expected)}, got {bool(actual)}."
        hint = " Use .item() to get a Python bool out of a tensor." if _is_tensor(actual) else ""
        return f"{name}: expected the bool {bool(expected)}, got {_type_name(actual)}.{hint}"
    if isinstance(expected, (numbers.Integral, _np_integer)):
        if isinstance(actual, (bool, _np_bool)):
            return f"{name}: expected the integer {int(expected)}, got {_type_name(actual)}."
        if isinstance(actual, (numbers.Integral, _np_integer)):
            if int(actual) == int(expected):
                return None
            msg = f"{name}: expected {int(expected)}, got {int(actual)}."
            if abs(int(actual) - int(expected)) == 1:
                msg += f"\n  Off by one: {_OFF_BY_ONE}."
            return msg
        if isinstance(actual, numbers.Real):
            if float(actual) == int(expected):
                return (f"{name}: expected the integer {int(expected)}, got the float "
                        f"{float(actual)!r}.\n  Use // (floor division) or int(...) "
                        f"so that the answer is an int.")
            return (f"{name}: expected the integer {int(expected)}, got the float "
                    f"{float(actual)!r}.\n  Use // (floor division), not /, and round down.")
        if _is_tensor(actual):
            return (f"{name}: expected the integer {int(expected)}, got {_type_name(actual)}.\n"
                    f"  Use .item() or int(...) to get a Python int out of a tensor.")
        return f"{name}: expected the integer {int(expected)}, got {_type_name(actual)}."
    if isinstance(expected, numbers.Real):
        if isinstance(actual, numbers.Real) and not isinstance(actual, (bool, _np_bool)):
            a, e = float(actual), float(expected)
            if a == e or (math.isnan(a) and math.isnan(e)):
                return None
            return f"{name}: expected {e!r}, got {a!r}."
        hint = "\n  Use .item() to get a Python number out of a tensor." if _is_tensor(actual) else ""
        return f"{name}: expected the number {_num(expected)}, got {_type_name(actual)}.{hint}"
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return f"{name}: expected the string {expected!r}, got {_type_name(actual)}."
        if actual == expected:
            return None
        msg = f"{name}: expected {expected!r}, got {actual!r}."
        if actual.strip().lower() == expected.strip().lower():
            msg += "\n  Only the case or surrounding spaces differ."
        return msg
    if _is_seq(expected):
        return _equal_seq(actual, expected, name)
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{name}: expected a dict, got {_type_name(actual)}."
        missing = [k for k in expected if k not in actual]
        extra = [k for k in actual if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing keys " + ", ".join(map(repr, missing[:5])))
            if extra:
                parts.append("unexpected keys " + ", ".join(map(repr, extra[:5])))
            return f"{name}: " + "; ".join(parts) + "."
        for k in expected:
            msg = _equal_core(actual[k], expected[k], f"{name}[{k!r}]")
            if msg:
                return msg
        return None
    if expected is None:
        return None if actual is None else f"{name}: expected None, got {_type_name(actual)}."
    return None if actual == expected else f"{name}: expected {expected!r}, got {actual!r}."


def _describe_expected(expected):
    if _is_tensor(expected):
        return f"a tensor of shape {_shape_str(expected.shape)}"
    if _is_seq(expected) or isinstance(expected, (str, numbers.Number)):
        return _nested(list(expected)) if _is_seq(expected) else repr(expected)
    return _type_name(expected)


def _equal_seq(actual, expected, name):
    exp = list(expected)
    if _is_tensor(actual):
        return (f"{name}: expected {_nested(exp)}, got {_type_name(actual)}.\n"
                f"  Give a tuple or list (tuple(t.shape), t.tolist()).")
    if not _is_seq(actual):
        return f"{name}: expected {_nested(exp)}, got {_type_name(actual)}."
    act = list(actual)
    if len(act) != len(exp):
        return (f"{name}: expected {len(exp)} items {_nested(exp)}, "
                f"got {len(act)} items {_nested(act) if len(act) <= 16 else '...'}.")
    wrong = []
    for i, (a, e) in enumerate(zip(act, exp)):
        msg = _equal_core(a, e, f"{name}[{i}]")
        if msg:
            wrong.append((i, msg))
    if not wrong:
        return None
    if len(exp) <= 16:
        head = (f"{name}: {len(wrong)} of {len(exp)} items wrong.\n"
                f"  expected {_nested_any(exp)}\n  got      {_nested_any(act)}")
    else:
        head = f"{name}: {len(wrong)} of {len(exp)} items wrong."
    first = wrong[0][1]
    lines = [head, "  first: " + first.split("\n")[0]]
    diffs = [a - e for a, e in zip(act, exp)
             if isinstance(a, numbers.Integral) and isinstance(e, numbers.Integral)
             and not isinstance(a, bool)]
    if any(abs(d) == 1 for d in diffs):
        lines.append(f"  Off by one: {_OFF_BY_ONE}.")
    elif "\n" in first:
        lines.append(first.split("\n", 1)[1])
    return "\n".join(lines)


def _nested_any(v):
    if _is_seq(v):
        return "[" + ", ".join(_nested_any(u) for u in v) + "]"
    if isinstance(v, numbers.Number):
        return _num(v)
    return repr(v)


def shape(actual, expected_shape, name="output"):
    """Check that tensor `actual` has shape `expected_shape`.

    expected_shape: a tuple, list or torch.Size; None (or -1) in it matches
        any size (e.g. (None, 10) for a batch of 10-class scores).
    actual: a tensor; a tuple / list / torch.Size of ints is taken as the shape itself.
    Raises CheckFailure (an AssertionError); returns None.

    >>> shape(torch.zeros(10, 31, 31), (10, 31, 31))
    >>> shape(torch.zeros(4, 10), (None, 10))
    """
    __tracebackhide__ = True
    want = tuple(expected_shape)
    if _is_seq(actual) and all(isinstance(d, numbers.Integral) for d in actual):
        got, what = tuple(int(d) for d in actual), f"{name}"
    else:
        msg = _not_a_tensor(actual, name)
        if msg:
            _fail(msg)
        got, what = tuple(actual.shape), f"{name} has the wrong shape"
    if len(got) == len(want) and all(w is None or w == -1 or g == w for g, w in zip(got, want)):
        return None
    shown = "(" + ", ".join("*" if w is None or w == -1 else str(w) for w in want) \
        + ("," if len(want) == 1 else "") + ")"
    lines = [f"{what}: expected shape {shown}, got {_shape_str(got)}."]
    if len(got) != len(want):
        if [d for d in got if d != 1] == [d for d in want if d not in (1, None, -1)]:
            extra = "an extra" if len(got) > len(want) else "a missing"
            lines.append(f"  {extra} dimension of size 1: check squeeze/unsqueeze, or a "
                         f"batch or channel dimension.")
        else:
            lines.append(f"  {len(got)} dimensions instead of {len(want)}.")
    else:
        off = [(ax, got[ax] - want[ax]) for ax in range(len(got))
               if want[ax] not in (None, -1) and got[ax] != want[ax]]
        if sorted(got) == sorted(w for w in want) and all(w not in (None, -1) for w in want):
            lines.append("  the same sizes in a different order: check the order of the "
                         "dimensions (images are (C, H, W), batches (N, C, H, W)).")
        else:
            lines.append("  " + "; ".join(f"axis {ax} is {got[ax]} instead of {want[ax]} ({d:+d})"
                                          for ax, d in off) + ".")
            if any(abs(d) == 1 for _, d in off):
                lines.append(f"  Off by one: {_OFF_BY_ONE}.")
    _fail("\n".join(lines))


def tensor(actual, name="output"):
    """Check that `actual` is a torch.Tensor (not None, a NumPy array, a list, a number).

    Raises CheckFailure (an AssertionError); returns None.

    >>> tensor(torch.zeros(3))
    """
    __tracebackhide__ = True
    msg = _not_a_tensor(actual, name)
    if msg:
        _fail(msg)


# ---------------------------------------------------------------- kernel or judge

# Set while the grader's judge runs a test cell (docs/grading.md): then the
# student's code lives in another process, and `forbid` and `make` talk to it.
_judge = None
_judged_forbid = []


@contextlib.contextmanager
def judging(judge):
    """Run test code in the judge: `forbid` and `make` go to the student's kernel."""
    global _judge
    previous, _judge = _judge, judge
    try:
        yield
    finally:
        _judge = previous
        _judged_forbid.clear()


def judged_forbidden():
    """The names the enclosing `forbid` blocks switch off (judge side), as strings."""
    return sorted({name for names in _judged_forbid for name in names})


def forbid(*things):
    """Switch off reference kernels and torch functions for the enclosed call.

    things: helpers kernel names ("corr2d"; "*" for all), torch callables
        (torch.nn.functional.conv2d, torch.Tensor.unfold, torch.ops.aten.conv2d),
        and presets: tuples, lists or sets of those (helpers.exercises).
    Raises ForbiddenCall naming what was called. See helpers/_guard.py.
    """
    things = _flatten(things)
    if _judge is None:
        return _guard.forbid(*things)
    return _forbid_in_kernel(tuple(t if isinstance(t, str) else _guard._display_name(t)
                                   for t in things))


def _flatten(things):
    """Presets are tuples, lists or sets of things: forbid(ex.NO_CONV, "corr2d") takes both."""
    flat = []
    for thing in things:
        if isinstance(thing, (tuple, list, set, frozenset)):
            flat.extend(_flatten(tuple(thing)))
        else:
            flat.append(thing)
    return tuple(flat)


@contextlib.contextmanager
def _forbid_in_kernel(names):
    _judge.forbidden_seen.update(names)
    _judged_forbid.append(names)
    try:
        yield
    finally:
        _judged_forbid.remove(names)


def make(dotted_name, *args, **kwargs):
    """Build an object to hand to the student's code: `make("torch.nn.CrossEntropyLoss")`.

    dotted_name: "package.module.Callable" under torch or helpers, e.g.
        "helpers.models.Net", "torch.optim.SGD", "torch.utils.data.DataLoader".
    Returns dotted_name(*args, **kwargs). In the student's kernel that is all
    it does; when a notebook is graded, the judge builds the object in the
    student's kernel instead and gets back a proxy (see docs/grading.md).
    """
    import importlib

    if not isinstance(dotted_name, str) or dotted_name.split(".")[0] not in ("torch", "helpers"):
        raise ValueError(f"dotted_name: expected a 'torch.' or 'helpers.' name, got {dotted_name!r}")
    if _judge is not None:
        return _judge.make(dotted_name, args, kwargs)
    module_name, _, attr = dotted_name.rpartition(".")
    target = None
    while module_name:
        try:
            target = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attr = f"{head}.{attr}"
    for part in attr.split("."):
        target = getattr(target, part)
    return target(*args, **kwargs)
