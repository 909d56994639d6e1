"""Dataset files: validate, stats, duplicates, stale prompts, leakage-free split, export.

Every problem is a `Problem` that prints as `FILE:LINE: what is wrong` (whole-file ones as
`FILE: ...`): services' own errors rarely name the line, and the cookbook checker skips tool calls.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from .._output import write_outputs
from ..errors import DistilgenError, MissingExtraError, UsageError
from . import shapes
from .dedup import near_duplicate_pairs
from .tokens import DEFAULT_MODEL, count_example_tokens, model_info

__all__ = [
    "MIN_EXAMPLES",
    "Problem",
    "Example",
    "DatasetStats",
    "FileReport",
    "KnownPrompts",
    "read_examples",
    "validate_file",
    "validate_files",
    "default_epochs",
    "compute_stats",
    "duplicate_problems",
    "stale_problems",
    "known_prompts_from_lock",
    "dataset_functions",
    "SplitResult",
    "split_file",
    "EXPORT_FORMATS",
    "ExportResult",
    "export_file",
]

MIN_EXAMPLES = 10
"""The fewest examples a dataset may hold: OpenAI refuses a training file with fewer, and `distilgen
train` refuses fewer training examples (one number, so a file `dataset validate` accepts is not
refused by either trainer for its size alone)."""
TARGET_EPOCHS, MIN_TARGET_EXAMPLES, MAX_TARGET_EXAMPLES = 3, 100, 25_000
MIN_DEFAULT_EPOCHS, MAX_DEFAULT_EPOCHS = 1, 25
NEAR_DUPLICATE_THRESHOLD = 0.9


@dataclass(frozen=True)
class Problem:
    path: str
    line: int | None
    """1-based line number; None for a problem with the whole file."""
    message: str
    severity: str = "error"
    """`error` (exit 1, jobs refuse the file) or `warning`."""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        # each line says what it is: the summary counts errors, so the reader must find them
        return f"{where}: {self.severity}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "line": self.line, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class Example:
    """One line that parsed as a JSON object of a known shape (it may still have problems)."""

    path: str
    line: int
    text: str
    obj: Mapping[str, Any]
    shape: str
    valid: bool


@dataclass(frozen=True)
class DatasetStats:
    examples: int
    tokens_min: int
    tokens_median: float
    tokens_max: int
    billed_tokens_per_epoch: int
    """Sum of per-example tokens, each capped at the model's limit (what the cookbook bills)."""
    epochs: int
    epochs_chosen_by: str
    """`service` (the default rule) or `you` (--epochs)."""
    trained_tokens: int
    price_per_million: float | None
    cost: float | None
    model: str
    max_tokens_per_example: int | None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class FileReport:
    path: str
    shape: str | None
    examples: int
    problems: tuple[Problem, ...]
    stats: DatasetStats | None
    notes: tuple[str, ...] = ()

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "shape": self.shape,
            "examples": self.examples,
            "ok": self.ok,
            "errors": [p.as_dict() for p in self.errors],
            "warnings": [p.as_dict() for p in self.warnings],
            "stats": self.stats.as_dict() if self.stats else None,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class KnownPrompts:
    """The current prompts (from the lock): an example matching none of them is stale.

    THE stale-prompt check (`dataset validate` warns, `train` refuses or drops) is `is_stale`.
    The prompt text alone decides: a fingerprint hashes that exact text (with the schema), so it
    could never accept a prompt the text comparison rejects."""

    prompts: frozenset[str] = frozenset()
    source: str = ""
    schemas: Mapping[str, Any] = dataclasses.field(default_factory=dict, hash=False)
    """Prompt (current or pinned) -> its function's output schema: checks compact lines' arguments."""

    def is_stale(self, system_prompt: str) -> bool:
        """Whether an example with this system prompt was captured before its function changed."""
        return system_prompt not in self.prompts


def read_examples(path: str | Path) -> tuple[list[Example], list[Problem]]:
    """Parse and check every line; problems carry the line number."""
    p = Path(path)
    name = str(path)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read: {exc.strerror or exc}") from None
    examples: list[Example] = []
    problems: list[Problem] = []
    raw_lines = data.split(b"\n")
    if raw_lines and raw_lines[-1] == b"":
        raw_lines.pop()  # the final newline ends the last line; it does not start an empty one
    first_shape: tuple[str, int] | None = None
    for number, raw in enumerate(raw_lines, start=1):
        if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
            problems.append(Problem(name, number, "starts with a UTF-8 byte-order mark; save the file without it"))
            raw = raw[3:]
        raw = raw.rstrip(b"\r")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(name, number, f"not UTF-8 (byte {exc.start + 1})"))
            continue
        if not text.strip():
            problems.append(Problem(name, number, "blank line (each line must be one JSON example)"))
            continue
        try:
            obj = shapes.loads(text)
        except ValueError as exc:
            problems.append(Problem(name, number, f"invalid JSON: {exc}"))
            continue
        shape, errors = shapes.check_example(obj)
        problems.extend(Problem(name, number, e) for e in errors)
        if shape is None:
            continue
        if first_shape is None:
            first_shape = (shape, number)
        elif shape != first_shape[0] and "raw" in (shape, first_shape[0]):
            problems.append(Problem(name, number, f"a {shape} example in a file whose line {first_shape[1]} is {first_shape[0]}; "
                                                  "raw records and chat examples cannot share a file"))
        elif shape != first_shape[0]:
            problems.append(Problem(name, number, f"a {shape} example in a file whose line {first_shape[1]} is {first_shape[0]}",
                                    "warning"))
        examples.append(Example(name, number, text, obj, shape, not errors))
    return examples, problems


def default_epochs(n_examples: int) -> int:
    """The epochs OpenAI picks when none are given (the cookbook's rule)."""
    if n_examples <= 0:
        return TARGET_EPOCHS
    epochs = TARGET_EPOCHS
    if n_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_examples)
    elif n_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_examples)
    return epochs


def compute_stats(token_counts: Sequence[int], *, model: str = DEFAULT_MODEL, max_tokens: int | None = None,
                  epochs: int | None = None, price_per_million: float | None = None) -> DatasetStats:
    info = model_info(model, max_tokens)
    limit = info.max_tokens_per_example
    billed = sum(min(n, limit) if limit else n for n in token_counts)
    chosen = epochs if epochs is not None else default_epochs(len(token_counts))
    trained = billed * chosen
    cost = round(trained / 1_000_000 * price_per_million, 4) if price_per_million is not None else None
    return DatasetStats(
        examples=len(token_counts),
        tokens_min=min(token_counts, default=0),
        tokens_median=float(statistics.median(token_counts)) if token_counts else 0.0,
        tokens_max=max(token_counts, default=0),
        billed_tokens_per_epoch=billed,
        epochs=chosen,
        epochs_chosen_by="you" if epochs is not None else "service",
        trained_tokens=trained,
        price_per_million=price_per_million,
        cost=cost,
        model=info.model,
        max_tokens_per_example=limit,
    )


def duplicate_problems(examples: Sequence[Example], *, threshold: float = NEAR_DUPLICATE_THRESHOLD) -> list[Problem]:
    """Exact duplicates, the same call answered twice (agreeing or not), and near-duplicates."""
    problems: list[Problem] = []
    first_text: dict[str, int] = {}
    first_call: dict[tuple[str, str, str], tuple[int, str]] = {}
    views = [shapes.view(e.obj) for e in examples]
    exact_dupe: set[int] = set()
    for idx, (e, v) in enumerate(zip(examples, views)):
        canonical = json.dumps(e.obj, sort_keys=True, ensure_ascii=False)
        if canonical in first_text:
            problems.append(Problem(e.path, e.line, f"exact duplicate of line {first_text[canonical]}", "warning"))
            exact_dupe.add(idx)
            continue
        first_text[canonical] = e.line
        key = (v.system, v.user, v.name)
        if key in first_call:
            line, answer = first_call[key]
            if answer == v.arguments:
                problems.append(Problem(e.path, e.line, f"same call and answer as line {line} (only formatting differs)", "warning"))
            else:
                problems.append(Problem(e.path, e.line, f"same call as line {line} with a different answer: the model is taught two outputs for one input", "warning"))
            exact_dupe.add(idx)
            continue
        first_call[key] = (e.line, v.arguments)
    keep = [i for i in range(len(examples)) if i not in exact_dupe]
    texts = [f"{views[i].user}\n{views[i].arguments}" for i in keep]
    for a, b, sim in near_duplicate_pairs(texts, threshold):
        ea, eb = examples[keep[a]], examples[keep[b]]
        problems.append(Problem(eb.path, eb.line, f"near-duplicate of line {ea.line} ({sim:.0%} similar)", "warning"))
    return sorted(problems, key=lambda p: (p.line or 0))


def stale_problems(examples: Sequence[Example], known: KnownPrompts) -> list[Problem]:
    """Examples whose system prompt (with its schema) matches no current prompt: trained on an old version."""
    problems = []
    for e in examples:
        if not known.is_stale(shapes.line_parts(e.obj).system):
            continue
        src = f" in {known.source}" if known.source else ""
        problems.append(Problem(e.path, e.line, f"stale: its system prompt matches no current prompt{src} "
                                                "(the function changed since this example was captured)", "warning"))
    return problems


def known_prompts_from_lock(lock_path: str | Path, function_id: str | None = None) -> KnownPrompts | None:
    """The lock's current prompts (of `function_id` alone when given); None when there is no lock
    file (or no entry for `function_id`): then nothing can be called stale.

    Pinned prompts (kept because a bound model was trained on them) are not current: examples
    written with them are stale for the next training run.
    """
    from ..prompts.lock import load_lock

    lock = load_lock(lock_path)
    entries = [e for e in lock if function_id is None or e.function_id == function_id]
    if not lock.exists or (function_id is not None and not entries):
        return None
    schemas: dict[str, Any] = {}
    for e in entries:
        for pinned in e.pinned:
            schemas.setdefault(pinned.prompt, json.loads(pinned.schema_json))
        schemas[e.prompt] = e.schema
    return KnownPrompts(frozenset(e.prompt for e in entries), str(lock_path), schemas)


def dataset_functions(path: str | Path, lock_path: str | Path | None) -> tuple[str, ...]:
    """The function ids a dataset trains (raw records name them; chat lines match the lock's
    prompts, current or pinned). Empty when any example's function cannot be told."""
    examples, _ = read_examples(path)
    by_prompt: dict[str, str] = {}
    if lock_path is not None:
        from ..prompts.lock import load_lock

        for entry in load_lock(lock_path):
            by_prompt.setdefault(entry.prompt, entry.function_id)
            for pinned in entry.pinned:
                by_prompt.setdefault(pinned.prompt, entry.function_id)
    found: set[str] = set()
    for e in examples:
        fid = e.obj.get("function_id") if e.shape == "raw" else by_prompt.get(shapes.view(e.obj).system)
        if not isinstance(fid, str):
            return ()
        found.add(fid)
    return tuple(sorted(found))


def validate_file(path: str | Path, *, model: str = DEFAULT_MODEL, max_tokens: int | None = None,
                  min_examples: int = MIN_EXAMPLES, epochs: int | None = None,
                  price_per_million: float | None = None, known: KnownPrompts | None = None,
                  duplicates: bool = True) -> FileReport:
    """Check one JSONL dataset file; stats are computed over the lines that passed."""
    name = str(path)
    examples, problems = read_examples(path)
    notes: list[str] = []
    shape = examples[0].shape if examples else None
    info = model_info(model, max_tokens)
    counts: list[int] = []
    try:
        for e in examples:
            if not e.valid:
                continue
            n = count_example_tokens(e.obj, model)
            counts.append(n)
            if info.max_tokens_per_example is not None and n > info.max_tokens_per_example:
                problems.append(Problem(name, e.line, f"{n} tokens, over the {info.max_tokens_per_example}-token "
                                                      f"limit per example of {info.model}"))
    except MissingExtraError as exc:
        counts = []
        notes.append(f"token counts and limits not checked: {exc}")
    if info.max_tokens_per_example is None and counts:
        notes.append(f"no per-example token limit known for {model}; pass --max-tokens to check one")
    if len(examples) < min_examples:
        count = f"{len(examples)} example{'' if len(examples) == 1 else 's'}"
        problems.append(Problem(name, None, f"{count}; OpenAI fine-tuning needs at least {min_examples} "
                                            f"(--min-examples N for a validation file or another service)"))
    valid = [e for e in examples if e.valid]  # an invalid line is reported once, for what is wrong with it
    unchecked = 0
    for e in valid:
        if e.shape == "raw":
            continue
        calls = shapes.undeclared_calls(e.obj)
        if not calls:
            continue
        schema = known.schemas.get(shapes.view(e.obj).system) if known is not None else None
        if schema is None:
            unchecked += 1
            continue
        src = f" (schema from {known.source})" if known is not None and known.source else ""
        for where, fn_name, arguments in calls:
            problems.extend(Problem(name, e.line, msg + src)
                            for msg in shapes.arguments_errors(arguments, fn_name, schema, where))
    if unchecked:
        notes.append(f"{unchecked} example(s) declare tools without parameters (compact) and match no lock entry: "
                     "their arguments were checked as JSON objects only (pass --lock to check them against the schema)")
    if duplicates:
        problems.extend(duplicate_problems(valid))
    if known is not None:
        problems.extend(stale_problems(valid, known))
    stats = compute_stats(counts, model=model, max_tokens=max_tokens, epochs=epochs,
                          price_per_million=price_per_million) if counts else None
    problems.sort(key=lambda p: (p.line if p.line is not None else 1 << 60, p.severity != "error"))
    return FileReport(name, shape, len(examples), tuple(problems), stats, tuple(notes))


def validate_files(paths: Iterable[str | Path], **kwargs: Any) -> list[FileReport]:
    return [validate_file(p, **kwargs) for p in paths]


# --- split --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitResult:
    train_path: str
    val_path: str
    train_examples: int
    val_examples: int
    groups: int
    """Leakage groups: identical (or near-identical) calls always travel together."""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _usable(path: str | Path) -> list[Example]:
    examples, problems = read_examples(path)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        shown = "\n".join(str(p) for p in errors[:20])
        more = f"\n... and {len(errors) - 20} more" if len(errors) > 20 else ""
        raise DistilgenError(f"{path}: {len(errors)} invalid line(s); fix them first "
                             f"(distilgen dataset validate):\n{shown}{more}")
    if not examples:
        raise DistilgenError(f"{path}: no examples")
    return examples


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _leakage_groups(examples: Sequence[Example]) -> list[list[int]]:
    views = [shapes.view(e.obj) for e in examples]
    uf = _UnionFind(len(examples))
    first: dict[tuple[str, str], int] = {}
    for i, v in enumerate(views):
        key = (v.name, v.user)  # the same call of the same function, whatever prompt version
        if key in first:
            uf.union(first[key], i)
        else:
            first[key] = i
    for a, b, _ in near_duplicate_pairs([f"{v.user}\n{v.arguments}" for v in views], NEAR_DUPLICATE_THRESHOLD):
        uf.union(a, b)
    groups: dict[int, list[int]] = {}
    for i in range(len(examples)):
        groups.setdefault(uf.find(i), []).append(i)
    return list(groups.values())


def split_file(path: str | Path, *, val: float = 0.1, seed: int = 0, out_dir: str | Path | None = None) -> SplitResult:
    """Split into `DIR/train.jsonl` and `DIR/val.jsonl` so that no call appears on both sides.

    The folder (default `<stem>_split/` beside the input) is what `distilgen train` takes.
    """
    if not 0 < val < 1:
        raise UsageError(f"--val must be between 0 and 1 (a fraction), got {val}")
    p = Path(path)
    examples = _usable(p)
    if len(examples) < 2:
        raise DistilgenError(f"{path}: {len(examples)} example: nothing to split")
    groups = _leakage_groups(examples)
    if len(groups) < 2:
        raise DistilgenError(f"{path}: every example is the same call; no split keeps them apart")
    random.Random(seed).shuffle(groups)
    target = max(1, round(val * len(examples)))
    val_idx: list[int] = []
    train_idx: list[int] = []
    for group in groups:
        if len(val_idx) + len(group) <= target:
            val_idx.extend(group)
        else:
            train_idx.extend(group)
    if not val_idx:  # every group is bigger than the target: take the smallest one
        smallest = min(groups, key=len)
        val_idx = list(smallest)
        train_idx = [i for i in train_idx if i not in set(smallest)]
    if not train_idx:
        raise DistilgenError(f"{path}: --val {val} leaves no training examples")
    stem = p.name[:-6] if p.name.endswith(".jsonl") else p.name
    folder = Path(out_dir) if out_dir else p.with_name(f"{stem}_split")
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--out {folder}: exists and is not a folder")
    t_out, v_out = folder / "train.jsonl", folder / "val.jsonl"
    if _same_file(p, t_out) or _same_file(p, v_out):
        raise UsageError(f"{path}: the split would overwrite its own input")
    write_outputs({out: "".join(examples[i].text + "\n" for i in idx)
                   for out, idx in ((t_out, sorted(train_idx)), (v_out, sorted(val_idx)))}, option="--out", folder=folder)
    return SplitResult(str(t_out), str(v_out), len(train_idx), len(val_idx), len(groups))


def _same_file(a: Path, b: Path) -> bool:
    """Whether b is a itself (by path, symlink or hard link: same device and inode): writing b would truncate a."""
    if a.resolve() == b.resolve():
        return True
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False  # b does not exist yet
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


# --- export -------------------------------------------------------------------------------------

EXPORT_FORMATS = ("hf-chat", "sharegpt", "openai-tools")


@dataclass(frozen=True)
class ExportResult:
    path: str
    fmt: str
    examples: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _hf_chat(tools_example: Mapping[str, Any]) -> dict[str, Any]:
    # transformers' chat templates take tool-call arguments as a dict, not a JSON string
    messages = []
    for m in tools_example["messages"]:
        m = {k: v for k, v in m.items() if k != "weight"}
        if m.get("tool_calls"):
            m["tool_calls"] = [{"type": "function", "function": {"name": c["function"]["name"],
                                                                  "arguments": json.loads(c["function"]["arguments"])}}
                               for c in m["tool_calls"]]
        messages.append(m)
    return {"messages": messages, "tools": list(tools_example.get("tools", []))}


_SHAREGPT_ROLES = {"system": "system", "developer": "system", "user": "human", "tool": "observation"}


def _sharegpt(tools_example: Mapping[str, Any]) -> dict[str, Any]:
    # LLaMA-Factory's sharegpt with function calling: function_call/observation turns, tools as a JSON string
    conversations: list[dict[str, str]] = []
    system = ""
    for m in tools_example["messages"]:
        role = m["role"]
        if role in ("system", "developer") and not conversations and not system:
            system = shapes._text(m.get("content"))
            continue
        if role == "assistant":
            if m.get("tool_calls"):
                for c in m["tool_calls"]:
                    conversations.append({"from": "function_call", "value": json.dumps(
                        {"name": c["function"]["name"], "arguments": json.loads(c["function"]["arguments"])},
                        ensure_ascii=False)})
            else:
                conversations.append({"from": "gpt", "value": shapes._text(m.get("content"))})
        else:
            conversations.append({"from": _SHAREGPT_ROLES.get(role, "human"), "value": shapes._text(m.get("content"))})
    out: dict[str, Any] = {"conversations": conversations}
    if system:
        out["system"] = system
    tools = [t["function"] for t in tools_example.get("tools", [])]
    if tools:
        out["tools"] = json.dumps(tools, ensure_ascii=False)
    return out


def export_file(path: str | Path, fmt: str, out: str | Path | None = None, *, tool_schema: str = "compact") -> ExportResult:
    """Write the dataset in another trainer's format (one JSON object per line).

    `tool_schema` says how raw records declare their tool: by name (`compact`, capture's default
    for tools lines, and what dispatch sends) or with the full JSON schema (`full`).
    """
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--to must be one of {', '.join(EXPORT_FORMATS)}, got {fmt!r}")
    from ..runtime.formats import TOOL_SCHEMAS

    if tool_schema not in TOOL_SCHEMAS:
        raise UsageError(f"--tool-schema must be one of {', '.join(TOOL_SCHEMAS)}, got {tool_schema!r}")
    p = Path(path)
    examples = _usable(p)
    converters: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
        "hf-chat": _hf_chat, "sharegpt": _sharegpt, "openai-tools": lambda x: x}
    convert = converters[fmt]
    stem = p.name[:-6] if p.name.endswith(".jsonl") else p.name
    target = Path(out) if out else p.with_name(f"{stem}.{fmt}.jsonl")
    if _same_file(p, target):
        raise UsageError(f"{path}: the export would overwrite its own input")
    lines = [json.dumps(convert(shapes.to_tools(e.obj, tool_schema)), ensure_ascii=False, separators=(",", ":")) for e in examples]
    write_outputs({target: "".join(line + "\n" for line in lines)}, option="--out")
    return ExportResult(str(target), fmt, len(lines))

