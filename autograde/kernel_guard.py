"""Code the grader runs inside the student's kernel around each graded test cell.

It is sent as a `user_expressions` entry of an execute request, which IPython
evaluates with `eval` in the user namespace: no input transformer, cell magic
or AST transformer a student installed ever sees it. The code itself runs in a
private namespace (only `g`, the user globals, is shared), so a student's
global names (`len`, `open`, ...) cannot shadow what it uses.

Modes:
- fingerprint: a string describing how IPython runs cells (its transformer
  lists and run methods). Taken once before the first cell, and compared
  before each graded test cell: a change means the submission installed an
  input or AST transformer, which could rewrite the test code.
- rebind (before a graded test cell): check that every loaded `helpers`
  module comes from the course's helpers folder and that none of its
  functions was replaced by code from the submission; bind the user's
  `helpers` to the real package and `check` to a fresh copy of
  helpers/check.py loaded from its file; return the fingerprint.
- verify (after the test cell, in the same execute request): the cell really
  ran its last line (a per-run random nonce was assigned), `check` is still
  the fresh copy, and no helpers function was replaced meanwhile.

Any failure raises; the grader reads the error as "test cells did not run as
written" and reports the submission as an error, with the reason.
"""

GUARD_CODE = r'''
import os, sys, types

def _fingerprint():
    shell = g["get_ipython"]()
    items = []
    for holder, names in ((shell, ("input_transformers_cleanup", "input_transformers_post",
                                   "ast_transformers")),
                          (shell.input_transformer_manager,
                           ("cleanup_transforms", "line_transforms", "token_transformers"))):
        for name in names:
            items.append((name, tuple(id(t) for t in getattr(holder, name, ()))))
    for name in ("run_cell", "run_cell_async", "transform_cell", "run_ast_nodes", "run_code",
                 "should_run_async", "transform_ast"):
        items.append((name, id(getattr(type(shell), name, None)), name in vars(shell)))
    items.append(("compile", id(type(shell.compile).__call__), "__call__" in vars(shell.compile)))
    return repr(items)

def _trusted_prefixes():
    paths = {args["helpers_dir"], sys.prefix, sys.base_prefix, sys.exec_prefix}
    return tuple(os.path.realpath(p) + os.sep for p in paths)

def _verify_helpers(skip=()):
    trusted = _trusted_prefixes()
    helpers_prefix = os.path.realpath(args["helpers_dir"]) + os.sep
    seen = {}
    for name in sorted(sys.modules):
        if (name != "helpers" and not name.startswith("helpers.")) or name in skip:
            continue
        module = sys.modules[name]
        origin = os.path.realpath(getattr(module, "__file__", None) or "?")
        if not origin.startswith(helpers_prefix):
            raise RuntimeError(f"module {name} does not come from the course's helpers "
                               f"folder (it comes from {origin})")
        for attr, value in list(vars(module).items()):
            if not isinstance(value, types.FunctionType):
                continue
            filename = value.__code__.co_filename
            if filename not in seen:
                seen[filename] = os.path.realpath(filename).startswith(trusted)
            if not seen[filename]:
                raise RuntimeError(f"{name}.{attr} was replaced by code from the submission")

def _real_helpers():
    import importlib.util
    package = sys.modules.get("helpers")
    if package is None:
        init = os.path.join(args["helpers_dir"], "__init__.py")
        spec = importlib.util.spec_from_file_location(
            "helpers", init, submodule_search_locations=[args["helpers_dir"]])
        package = importlib.util.module_from_spec(spec)
        sys.modules["helpers"] = package
        spec.loader.exec_module(package)
    return package

def _rebind():
    import importlib.util
    _verify_helpers(skip=("helpers.check",))
    package = _real_helpers()
    spec = importlib.util.spec_from_file_location("helpers.check", args["check_path"])
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    fresh.__autograde_token__ = args["token"]
    sys.modules["helpers.check"] = fresh
    setattr(package, "check", fresh)
    g["helpers"] = package
    g["check"] = fresh
    return _fingerprint()

def _verify():
    if g.get(args["nonce_name"]) != args["nonce_value"]:
        raise RuntimeError("the test cell did not run to its end as written")
    g.pop(args["nonce_name"], None)
    if getattr(g.get("check"), "__autograde_token__", None) != args["token"]:
        raise RuntimeError("`check` was replaced while the test cell ran")
    _verify_helpers()
    return "ok"

result = {"fingerprint": _fingerprint, "rebind": _rebind, "verify": _verify}[args["mode"]]()
'''


def expression(mode, **args):
    """A user_expressions entry running GUARD_CODE in `mode` with `args`."""
    args = dict(args, mode=mode)
    return (f"(lambda ns: [exec({GUARD_CODE!r}, ns), ns['result']][1])"
            f"({{'g': globals(), 'args': {args!r}}})")
