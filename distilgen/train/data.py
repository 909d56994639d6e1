"""Dataset files (tools / messages / raw shapes) to training examples for one function.

Every line is validated by the dataset layer's shape checker (`ops.shapes.check_example`), so a bad
line is an error naming FILE:LINE. An example is reduced to what dispatch will send (system prompt,
user message) and what the model must answer (the arguments JSON, key order as captured: the
return model's field order, which is also the order llama.cpp's schema grammar enforces).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..errors import UsageError
from ..ops.dataset import MIN_EXAMPLES
from ..ops.shapes import USER_PREFIX, check_example, line_parts

__all__ = ["Example", "DataFile", "LoadedData", "load_examples", "select_function", "split_validation", "validation_floor",
           "resolve_inputs", "USER_PREFIX", "MIN_EXAMPLES"]



@dataclass(frozen=True)
class Example:
    where: str
    """`FILE:LINE` of the dataset line."""
    function_id: str | None
    """`module:qualname` when the line says so (raw shape), else None."""
    call_name: str
    """The function name of the rendered call in the user message (`classify_ticket`)."""
    tool_name: str
    system: str
    user: str
    answer: str
    """The arguments JSON, compact, keys in the order captured."""
    schema_json: str
    """The return model's schema as the line declares it (compact JSON)."""

    @property
    def group(self) -> str:
        """Which function this example teaches: its id when known, else `name -> Tool`."""
        return self.function_id or f"{self.call_name} -> {self.tool_name}"

    @property
    def schema(self) -> dict[str, Any]:
        return json.loads(self.schema_json)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DataFile:
    path: str
    sha256: str
    lines: int
    role: str
    """`train` or `validation`."""


@dataclass(frozen=True)
class LoadedData:
    files: tuple[DataFile, ...]
    train: tuple[Example, ...]
    validation: tuple[Example, ...] = ()
    skipped: Mapping[str, int] = field(default_factory=dict)
    """Reason -> count of lines dropped (other functions, stale prompts, too long)."""


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _call_name(user: str) -> str:
    call = user[len(USER_PREFIX):] if user.startswith(USER_PREFIX) else user
    return call.partition("(")[0].strip()


def _from_line(obj: Mapping[str, Any], shape: str, where: str) -> Example:
    p = line_parts(obj)
    if p.arguments is None:
        raise UsageError(f"{where}: the assistant answers with text, not a tool call; distilgen trains on tool calls")
    answer = _dumps(json.loads(p.arguments))
    if shape == "raw":
        return Example(where, p.function_id, _call_name(p.user), p.tool, p.system, p.user, answer, _dumps(obj["schema"]))
    if not p.system:
        raise UsageError(f"{where}: no system message: distilgen's examples carry the function's prompt there")
    declared = obj.get("tools") or obj.get("functions") or []
    schema: Any = {}
    for d in declared:
        fn = d.get("function", d)
        if fn.get("name") == p.tool:
            schema = fn.get("parameters", {})
    return Example(where, None, _call_name(p.user), p.tool, p.system, p.user, answer, _dumps(schema))


def resolve_inputs(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(training files, validation files). A folder written by `distilgen dataset split` gives its
    train.jsonl and val(idation).jsonl; any other folder gives every *.jsonl in it."""
    train: list[Path] = []
    val: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            if (p / "train.jsonl").is_file():
                train.append(p / "train.jsonl")
                val.extend(q for q in (p / "val.jsonl", p / "validation.jsonl", p / "valid.jsonl") if q.is_file())
            else:
                found = sorted(p.glob("*.jsonl"))
                if not found:
                    raise UsageError(f"{p}: folder holds no *.jsonl dataset file")
                train.extend(found)
        elif p.is_file():
            train.append(p)
        else:
            raise UsageError(f"{p}: no such dataset file or folder")
    if not train:
        raise UsageError("no dataset given: pass one or more .jsonl files (or a folder from `distilgen dataset split`)")
    return train, val


def _read(path: Path, role: str) -> tuple[DataFile, list[Example]]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: cannot read dataset: {exc.strerror or exc}") from None
    out: list[Example] = []
    lines = 0
    for n, raw in enumerate(data.split(b"\n"), 1):
        if not raw.strip():
            continue
        lines += 1
        where = f"{path}:{n}"
        try:
            obj = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise UsageError(f"{where}: not UTF-8 text") from None
        except ValueError as exc:
            raise UsageError(f"{where}: not valid JSON: {exc}") from None
        shape, problems = check_example(obj)
        if problems or shape is None:
            raise UsageError(f"{where}: {problems[0] if problems else 'not a fine-tuning example'}")
        out.append(_from_line(obj, shape, where))
    if not out:
        raise UsageError(f"{path}: the dataset is empty (no example lines)")
    return DataFile(str(path), "sha256:" + hashlib.sha256(data).hexdigest(), lines, role), out


def select_function(examples: list[Example], function: str | None) -> tuple[list[Example], int]:
    """The examples of one function, and how many of other functions were left out.

    Lines without a function id (tools/messages shapes) match `module:qualname` by the call's name.
    """
    groups: dict[str, list[Example]] = {}
    for ex in examples:
        groups.setdefault(ex.group, []).append(ex)
    if function is None:
        if len(groups) > 1:
            listing = ", ".join(f"{g} ({len(v)})" for g, v in sorted(groups.items()))
            raise UsageError(f"the dataset holds examples of {len(groups)} functions ({listing}); "
                             f"pass --function module:qualname to pick one")
        return examples, 0
    if function.count(":") != 1:
        raise UsageError(f"--function {function!r}: expected 'module:qualname'")
    short = function.rpartition(":")[2].rpartition(".")[2]
    chosen = [ex for ex in examples
              if ex.function_id == function or (ex.function_id is None and ex.call_name in (short, function.rpartition(":")[2]))]
    if not chosen:
        listing = ", ".join(sorted(groups))
        raise UsageError(f"--function {function}: no example in the dataset is a call of it (found: {listing})")
    return chosen, len(examples) - len(chosen)


def validation_floor(target: float) -> int:
    """The fewest validation calls that training stops at `target` on: 2 / (1 - target), so meeting
    the target still allows two wrong answers (40 at 0.95). Decided on 20 calls, a model that is
    right 87% of the time passes a 0.95 target (at most one wrong) with probability 0.25 at each
    epoch's check; on 40 (at most two wrong), 0.09 (binomial; one right 94% of the time: 0.66, 0.57)."""
    return 1_000_000 if target >= 1 else math.ceil(2 / (1 - target) - 1e-9)


def split_validation(examples: list[Example], fraction: float, seed: int,
                     at_least: int = 1) -> tuple[list[Example], list[Example]]:
    """A deterministic held-out split of round(fraction * n) examples, and at least `at_least` of
    them while that leaves three quarters (and MIN_EXAMPLES) to train on: those with the smallest hash of (seed,
    their text), so the choice depends on neither line order nor where the dataset file lives (an
    earlier key included the path, so a moved file split differently)."""
    if fraction <= 0 or len(examples) < 2:
        return examples, []
    k = max(1, round(fraction * len(examples)), min(at_least, len(examples) // 4, len(examples) - MIN_EXAMPLES))

    def key(ex: Example) -> bytes:
        return hashlib.sha256(f"{seed}\0{ex.system}\0{ex.user}".encode("utf-8")).digest()

    held = {id(e) for e in sorted(examples, key=key)[:k]}
    return [e for e in examples if id(e) not in held], [e for e in examples if id(e) in held]


def load_examples(paths: Iterable[str | Path], function: str | None) -> tuple[list[DataFile], list[Example], list[Example], int]:
    """Read every file; (files, training examples, validation examples, lines of other functions)."""
    train_paths, val_paths = resolve_inputs(paths)
    files: list[DataFile] = []
    train: list[Example] = []
    val: list[Example] = []
    for p in train_paths:
        f, ex = _read(p, "train")
        files.append(f)
        train.extend(ex)
    for p in val_paths:
        f, ex = _read(p, "validation")
        files.append(f)
        val.extend(ex)
    chosen, others = select_function(train + val, function)
    keep = {id(e) for e in chosen}
    return files, [e for e in train if id(e) in keep], [e for e in val if id(e) in keep], others
