"""Which weight buffer types llama.cpp may use on this machine: the plain CPU one, or its "extra" ones.

llama.cpp repacks weights into extra buffer types where the CPU allows (AMX tiles on recent Intel
Xeons, interleaved AVX layouts elsewhere). On this project's 2-core Xeon they evaluate a prompt
about twice as fast (docs/performance.md, "AMX"). But llama-cpp-python built from source by GCC 12
miscompiles the AMX kernel: the stores that fill in the tile configuration are removed as dead,
`ldtilecfg` loads garbage and the process dies (SIGSEGV, or SIGILL) on the first batch of more
than one token. `scripts/setup.sh` builds it with those stores kept; a build from plain `pip
install` may be either. So whether the extra types are used is measured, not assumed: two child
processes evaluate one fixed prompt on the base model, one with the extra types and one without,
and the extra types are used only when their child survives and its logits agree with the plain
ones. The verdict is cached per (llama.cpp libraries, CPU flags, base file), so a machine pays the
probe (a few seconds) once per build. `DISTILGEN_LLAMA_EXTRA_BUFTS=1` or `=0` decides without
probing."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .._user_cache import cache_root

__all__ = ["BufferVerdict", "extra_buffer_verdict", "use_extra_buffer_types", "without_extra_buffer_types"]

ENV = "DISTILGEN_LLAMA_EXTRA_BUFTS"
# One fixed prompt: a chat-templated dispatch request, long enough (64 tokens) for the batched
# matrix kernels that the broken builds die in; one token is evaluated by another kernel.
_PROBE_TEXT = (
    "<|im_start|>system\nYou classify support tickets by urgency and team.<|im_end|>\n<|im_start|>user\n"
    "Return classify_ticket(subject='Refund not received', body='I was charged twice for order R-39260 "
    "on 3 Jul 2005, please help')<|im_end|>\n<|im_start|>assistant\n"
)
# Agreement: quantised kernels differ in rounding, so logits are not equal; a kernel that computes
# garbage agrees on almost no top token. Measured on the default base (64 rows): plain vs AMX top
# token equal on 60 rows, largest difference 2.1 against logits up to 37.8 (plain vs float32: 61
# rows, 1.2). The bounds below are set far from both, to catch a wrong kernel, not rounding.
_MIN_TOP_AGREEMENT = 0.75
_MAX_DIFF_SHARE = 0.25
_TIMEOUT = 180.0


@dataclass(frozen=True)
class BufferVerdict:
    extra: bool
    reason: str


_use_extra = False


def use_extra_buffer_types(on: bool) -> None:
    """Make every llama.cpp model this process loads from now on use (or not) the extra buffer types."""
    global _use_extra
    _use_extra = on
    _install_patch()


def without_extra_buffer_types() -> None:
    """Load weights in the plain CPU buffer (always correct) unless DISTILGEN_LLAMA_EXTRA_BUFTS=1."""
    use_extra_buffer_types(os.environ.get(ENV) == "1")


def _install_patch() -> None:
    import llama_cpp
    import llama_cpp.llama as llama_module

    default = llama_cpp.llama_model_default_params
    if getattr(default, "_distilgen", False):
        return

    def params() -> Any:
        p = default()
        if hasattr(p, "use_extra_bufts") and not _use_extra:
            p.use_extra_bufts = False
        return p

    params._distilgen = True  # type: ignore[attr-defined]
    llama_cpp.llama_model_default_params = params
    llama_module.llama_cpp.llama_model_default_params = params


def extra_buffer_verdict(base_gguf: str | os.PathLike[str], environ: dict[str, str] | None = None) -> BufferVerdict:
    """Whether models on `base_gguf` may use the extra buffer types here (see the module's doc)."""
    env = os.environ if environ is None else environ
    if env.get(ENV) in ("0", "1"):
        return BufferVerdict(env[ENV] == "1", f"set by {ENV}={env[ENV]}")
    base = Path(base_gguf)
    key = _cache_key(base)
    cached = cache_root() / "llama-buffer-types" / f"{key}.json"
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        return BufferVerdict(bool(data["extra"]), str(data["reason"]))
    except (OSError, ValueError, KeyError, TypeError):
        pass
    verdict, conclusive = _probe(base)
    if not conclusive:
        return verdict  # a timeout or a failing plain run says nothing about the build: ask again next time
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"extra": verdict.extra, "reason": verdict.reason, "base": str(base)}), encoding="utf-8")
        os.replace(tmp, cached)  # a concurrent probe writes the same verdict; never half a file
    except OSError:
        pass  # an unwritable cache costs a probe next time, nothing else
    return verdict


def _cache_key(base: Path) -> str:
    h = hashlib.sha256(_build_key().encode())
    st = base.stat()
    h.update(f"{base.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:32]


@functools.lru_cache(maxsize=1)
def _build_key() -> str:
    """The llama.cpp libraries' digest and the CPU's flags: fixed for a process's life, and ~24 MB
    to hash, so once per process rather than at every epoch's scoring."""
    import importlib.util

    h = hashlib.sha256()
    # found, not imported: the parent of a server need not load llama.cpp's libraries itself
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("llama_cpp")
    lib = Path(spec.origin).parent / "lib"
    for f in sorted(lib.glob("*.so*")) + sorted(lib.glob("*.dylib")) + sorted(lib.glob("*.dll")):
        h.update(f.name.encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    h.update(_cpu_flags().encode())
    return h.hexdigest()


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _probe(base: Path) -> tuple[BufferVerdict, bool]:
    """(the verdict, whether it is about the build: worth caching)."""
    import numpy as np

    from .serve import llama_thread_env  # here: serve imports this module

    with tempfile.TemporaryDirectory(prefix="distilgen-buffer-probe-") as tmp:
        results = {}
        for extra in (False, True):
            out = Path(tmp) / f"{int(extra)}.npy"
            env = {k: v for k, v in os.environ.items() if k != ENV}
            env.update(llama_thread_env(env))  # the children's threads wait at barriers as the server's do
            try:
                proc = subprocess.run(_probe_command(base, out, extra), stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=_TIMEOUT)
            except subprocess.TimeoutExpired:
                return BufferVerdict(False, f"the probe {'with' if extra else 'without'} extra buffer types "
                                            f"did not finish within {_TIMEOUT:.0f}s"), False
            if proc.returncode != 0:
                what = _exit_text(proc.returncode)
                if not extra:
                    return BufferVerdict(False, f"the plain probe failed ({what}): "
                                                f"{proc.stderr.decode(errors='replace').strip()[-300:]}"), False
                return BufferVerdict(False, f"llama.cpp with extra buffer types {what} on a 64-token prompt"), True
            results[extra] = np.load(out)
    plain, extra_rows = results[False], results[True]
    if plain.shape != extra_rows.shape or not np.isfinite(extra_rows).all():
        return BufferVerdict(False, "llama.cpp with extra buffer types computed non-finite or misshapen logits"), True
    top = float((plain.argmax(axis=1) == extra_rows.argmax(axis=1)).mean())
    diff = float(np.abs(plain - extra_rows).max())
    scale = float(np.abs(plain).max())
    figures = f"top token equal on {top:.0%} of {len(plain)} rows, largest logit difference {diff:.2f} of {scale:.1f}"
    if top < _MIN_TOP_AGREEMENT or diff > _MAX_DIFF_SHARE * scale:
        return BufferVerdict(False, f"llama.cpp with extra buffer types disagrees with the plain kernels ({figures})"), True
    return BufferVerdict(True, f"extra buffer types agree with the plain kernels ({figures})"), True


def _probe_command(base: Path, out: Path, extra: bool) -> list[str]:
    return [sys.executable, "-m", "distilgen.train.buffer_types", str(base), str(out), "1" if extra else "0"]


def _exit_text(code: int) -> str:
    import signal

    if code < 0:
        try:
            return f"died of {signal.Signals(-code).name}"
        except ValueError:
            return f"died of signal {-code}"
    return f"exited with code {code}"


def _child(base: str, out: str, extra: bool) -> None:
    import numpy as np

    use_extra_buffer_types(extra)
    from llama_cpp import Llama

    llm = Llama(model_path=base, n_ctx=256, n_threads=2, n_threads_batch=2, n_batch=256, logits_all=True, verbose=False)
    tokens = llm.tokenize(_PROBE_TEXT.encode(), add_bos=False, special=True)
    llm.eval(tokens)
    np.save(out, np.asarray(llm.scores[: llm.n_tokens], dtype=np.float32))


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3] == "1")
