"""Write a peft LoRA adapter as a llama.cpp LoRA GGUF that applies on top of the base GGUF.

Why an adapter GGUF rather than a merged model: the base we train on IS the served GGUF
(dequantised by transformers), so base + adapter in llama.cpp is the trained model with no
requantisation drift, the artifact is a few MB instead of a second copy of the model, and one base
file serves any number of adapters.

Layout (what llama.cpp's adapter loader checks): `general.type = "adapter"`,
`general.architecture` equal to the base's, `adapter.type = "lora"`, `adapter.lora.alpha`, and for
each adapted weight `<gguf tensor name>.lora_a` (rank x in) and `.lora_b` (out x rank), the same
row-major arrays peft stores. llama.cpp scales by alpha / rank as peft does.

One subtlety: for llama-family models llama.cpp's converter permutes the rows of the Q and K
projections (rotary layout) and transformers undoes that when it loads a GGUF. The rows of a LoRA
update live in lora_b, so lora_b of q/k gets the converter's permutation back.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

__all__ = ["write_lora_gguf", "gguf_metadata", "read_gguf_kv", "PERMUTED_ARCHS"]

PERMUTED_ARCHS = frozenset({"llama"})
"""Architectures whose Q/K rows llama.cpp's converter permutes (and transformers un-permutes)."""


_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}


def read_gguf_kv(path: Path, wanted: frozenset[str] | None = None) -> dict[str, Any]:
    """The header key/values of a GGUF file (arrays skipped unless wanted).

    gguf's GGUFReader builds numpy views for every element of the vocabulary arrays, tens of
    seconds for one file; the few scalars we need are read straight from the header instead.
    """
    import struct

    out: dict[str, Any] = {}
    with open(path, "rb") as f:
        def read(fmt: str) -> Any:
            return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]

        def string() -> str:
            return f.read(read("<Q")).decode("utf-8", "replace")

        def value(kind: int, keep: bool) -> Any:
            if kind in _SCALAR:
                return read(_SCALAR[kind])
            if kind == 8:
                return string()
            if kind == 9:
                elem, count = read("<I"), read("<Q")
                if elem in _SCALAR and not keep:
                    f.seek(struct.calcsize(_SCALAR[elem]) * count, 1)
                    return None
                items = [value(elem, keep) for _ in range(count)]
                return items if keep else None
            raise ValueError(f"{path}: unknown GGUF value type {kind}")

        if f.read(4) != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file")
        version = read("<I")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old")
        read("<Q")  # tensor count
        for _ in range(read("<Q")):
            key = string()
            keep = wanted is None or key in wanted
            v = value(read("<I"), keep)
            if keep:
                out[key] = v
    return out


def gguf_metadata(path: Path) -> dict[str, Any]:
    """The few base-model facts the adapter needs: architecture, heads, KV heads, blocks, chat template."""
    kv = read_gguf_kv(path, frozenset({"general.architecture", "general.name", "tokenizer.chat_template"})
                      | frozenset(f"{a}.{k}" for a in _ARCH_GUESS for k in ("attention.head_count", "attention.head_count_kv", "block_count")))
    arch = kv.get("general.architecture")
    if arch not in _ARCH_GUESS:
        kv = read_gguf_kv(path, frozenset({f"{arch}.attention.head_count", f"{arch}.attention.head_count_kv",
                                           f"{arch}.block_count"})) | kv
    return {
        "architecture": arch,
        "head_count": kv.get(f"{arch}.attention.head_count"),
        "head_count_kv": kv.get(f"{arch}.attention.head_count_kv"),
        "block_count": kv.get(f"{arch}.block_count"),
        "chat_template": kv.get("tokenizer.chat_template"),
        "name": kv.get("general.name"),
    }


_ARCH_GUESS = ("llama", "qwen2", "qwen3", "mistral", "gemma", "gemma2", "phi3")


def _permute(w: Any, n_head: int, n_head_kv: int | None) -> Any:
    # llama.cpp convert_hf_to_gguf's LlamaModel.permute, on a numpy array (rows = output features)
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_lora_gguf(state: Mapping[str, Any], alpha: float, base_gguf: Path, out: Path) -> int:
    """Write `state` (peft's adapter state dict: `...layers.N.self_attn.q_proj.lora_A.weight`) as a
    llama.cpp LoRA GGUF for `base_gguf`; returns the number of adapted weights."""
    import gguf
    import numpy as np

    meta = gguf_metadata(base_gguf)
    arch = meta["architecture"]
    arch_enum = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}.get(arch)
    if arch_enum is None:
        raise ValueError(f"{base_gguf}: architecture {arch!r} is unknown to the gguf package")
    names = gguf.get_tensor_name_map(arch_enum, int(meta["block_count"]))
    pairs: dict[str, dict[str, Any]] = {}
    for key, tensor in state.items():
        if ".lora_A." in key:
            part = "a"
        elif ".lora_B." in key:
            part = "b"
        else:
            continue
        hf = key.split(".lora_")[0]
        for prefix in ("base_model.model.",):
            if hf.startswith(prefix):
                hf = hf[len(prefix):]
        pairs.setdefault(hf, {})[part] = tensor.detach().float().cpu().numpy()
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_type(gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    count = 0
    for hf, ab in sorted(pairs.items()):
        if set(ab) != {"a", "b"}:
            raise ValueError(f"adapter weight {hf} lacks lora_A or lora_B")
        target = names.get_name(hf + ".weight", try_suffixes=(".weight",))
        if target is None:
            raise ValueError(f"adapter weight {hf} has no llama.cpp tensor name for architecture {arch}")
        a, b = ab["a"], ab["b"]
        if arch in PERMUTED_ARCHS:
            if hf.endswith("q_proj"):
                b = _permute(b, int(meta["head_count"]), int(meta["head_count"]))
            elif hf.endswith("k_proj"):
                b = _permute(b, int(meta["head_count"]), int(meta["head_count_kv"]))
        writer.add_tensor(target + ".lora_a", np.ascontiguousarray(a, dtype=np.float32))
        writer.add_tensor(target + ".lora_b", np.ascontiguousarray(b, dtype=np.float32))
        count += 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return count
