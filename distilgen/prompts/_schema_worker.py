"""Run in a subprocess by `distilgen prompts`: import the project and report each function's schema.

The fingerprint covers the return model's JSON schema, which only the model class knows. So the
static side imports the project here, in a child process with the project root on sys.path (its
import side effects stay out of the parent), and asks the runtime itself: a decorated function's
`__distil__` state gives exactly the function id, tool name, schema and include-body setting the
runtime will use.

Input: a JSON file of targets `{key, module, qualname, model, instance}`. Output: a JSON file
mapping each key to `{function_id, tool, schema, include_body}` or `{error}`.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any


def _import_dotted(dotted: str) -> Any:
    """`pkg.mod.Cls.Inner` or `pkg.mod:attr`: import the longest module prefix, then getattr."""
    if ":" in dotted:
        mod, _, attr = dotted.partition(":")
        obj: Any = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
        return obj
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = getattr(obj, part)
        return obj
    raise ImportError(f"cannot import {dotted}")


def _resolve(module: str, qualname: str) -> Any:
    obj: Any = importlib.import_module(module)
    parts = qualname.split(".")
    if "<locals>" in parts:
        return None  # defined when its enclosing function runs: not reachable by import
    for part in parts:
        holder = obj
        obj = vars(holder).get(part, None) if isinstance(holder, type) else getattr(holder, part, None)
        if obj is None:
            raise AttributeError(f"{module} has no {qualname}")
        if isinstance(obj, (staticmethod, classmethod)):
            obj = obj.__func__
    return obj


def describe(target: dict[str, Any]) -> dict[str, Any]:
    from distilgen.runtime import formats
    from distilgen.runtime.spec import resolve_return_model

    fn = _resolve(target["module"], target["qualname"])
    state = getattr(fn, "__distil__", None)
    if state is not None:
        spec = state.spec
        return {
            "function_id": spec.function_id,
            "tool": spec.tool_name,
            "schema": spec.schema,
            "include_body": bool(state.instructions.include_code_body),
        }
    # not decorated at import time (nested, or wrapped by something else): use the scan's model
    model = resolve_return_model(fn) if fn is not None else _import_dotted(target["model"])
    include_body = False
    if target.get("instance"):
        include_body = bool(getattr(_import_dotted(target["instance"]), "include_code_body", False))
    return {
        "function_id": f"{target['module']}:{target['qualname']}",
        "tool": model.__name__,
        "schema": formats.tool_schema(model),
        "include_body": include_body,
    }


def main(argv: list[str]) -> int:
    src, dst = argv
    with open(src, encoding="utf-8") as f:
        targets = json.load(f)
    out: dict[str, Any] = {}
    # user modules may print while importing: keep our stdout clean, results go to a file
    sys.stdout = sys.stderr
    for t in targets:
        try:
            out[t["key"]] = describe(t)
        except BaseException as exc:  # noqa: B902 - a module that exits or raises must not stop the others
            last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
            where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
            out[t["key"]] = {"error": f"{type(exc).__name__}: {exc}{where}"}
    with open(dst, "w", encoding="utf-8") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    # the project root is on sys.path through PYTHONPATH, set by the parent
    sys.exit(main(sys.argv[1:]))
