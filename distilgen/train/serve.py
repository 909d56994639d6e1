"""`distilgen serve DIR`: llama.cpp's OpenAI-compatible server (llama-cpp-python) for a trained model.

The server runs as a child process in its own session, so it is ours to stop: on Ctrl-C, SIGTERM
or any exit path we send it SIGTERM, wait, and SIGKILL what is left. It loads the base GGUF and
the adapter GGUF (see lora_gguf.py for why not a merged model); the chat template comes from the
base GGUF, the same one training rendered with.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import DistilgenError, UsageError
from . import buffer_types
from .extras import require_serve

__all__ = ["ServeInfo", "LocalServer", "serve_command", "start_server", "serve_forever", "free_port",
           "project_model_folders"]


@dataclass(frozen=True)
class ServeInfo:
    base_url: str
    model_id: str
    """The id to put after `local:` (what /v1/models lists); the first one when several are served."""
    pid: int
    command: tuple[str, ...]
    model_ids: tuple[str, ...] = ()
    """Every served id, in the order given (one llama.cpp process, one port)."""
    folders: tuple[str, ...] = ()
    kernels: str = ""
    """Which llama.cpp weight buffers the server uses, and why (train/buffer_types.py)."""


class ServerFailed(DistilgenError):
    """The llama.cpp server did not come up; the message carries the end of its log."""


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def llama_thread_env(environ: dict[str, str] | os._Environ[str]) -> dict[str, str]:
    """What the llama.cpp server's environment needs so its threads wait well at barriers.

    llama-cpp-python's llama.cpp is built with OpenMP (libgomp), whose threads wait at every barrier
    (hundreds per token). Spinning without end (libgomp's default, and ACTIVE) burns the time slice
    a busy machine's other thread needs: at load ~9 on 2 cores, 1,922 ms per generated token. Always
    sleeping (PASSIVE) fixes that but pays a futex wake-up at every barrier: on an idle machine
    45 ms per token against 15 ms spinning. A short spin (GOMP_SPINCOUNT=1000, microseconds), then
    sleep, is within a few ms of spinning when idle and of PASSIVE at load 4 (docs/performance.md,
    local latency). libgomp reads it once, when loaded, so it goes into the child's environment; a
    policy or spin count the user set wins."""
    if environ.get("OMP_WAIT_POLICY") or environ.get("GOMP_SPINCOUNT"):
        return {}
    return {"GOMP_SPINCOUNT": "1000"}


def _model_files(folder: Path) -> tuple[dict[str, Any], Path, Path | None]:
    from .base import served_base
    from .run import load_model_json

    info = load_model_json(folder)
    if not info.get("schema") or not info.get("tool_name"):
        # llama.cpp builds the answer's grammar from it; without it every forced tool call is a 500
        raise UsageError(
            f"{folder}/model.json: no output schema recorded, so answers cannot be constrained to the return "
            f"model; retrain with `distilgen train ... --function module:qualname` (this version records it)"
        )
    serve = info.get("serve") or {}
    base_path = served_base(folder, info)
    adapter = serve.get("adapter_gguf")
    adapter_path = folder / adapter if adapter else None
    if adapter_path is not None and not adapter_path.is_file():
        raise UsageError(f"{adapter_path}: adapter file missing; retrain with `distilgen train`")
    return info, base_path, adapter_path


def _server_config(folders: list[Path], host: str, port: int, threads: int, n_ctx: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """(llama_cpp.server config file: one model entry per folder, {model id: {tool: schema}})."""
    models: list[dict[str, Any]] = []
    schemas: dict[str, Any] = {}
    where: dict[str, Path] = {}
    for folder in folders:
        info, base_path, adapter_path = _model_files(folder)
        name = str(info["name"])
        if name in where:
            raise UsageError(f"{folder}: model name {name!r} is also the name of {where[name]}; "
                             f"each served model needs its own local:NAME (retrain one with --name)")
        where[name] = folder
        # logits_all: llama_cpp.server's default True computes the output layer (49,152 x 576) for every
        # token of a batch and copies each row out; only logprobs need them, and dispatch asks for none
        entry: dict[str, Any] = {"model": str(base_path), "model_alias": name, "n_ctx": n_ctx, "n_threads": threads,
                                 "n_threads_batch": threads, "n_batch": 256, "logits_all": False, "verbose": False}
        if adapter_path is not None:
            entry["lora_path"] = str(adapter_path)
        models.append(entry)
        schemas[name] = {info["tool_name"]: info["schema"]}
    return {"host": host, "port": port, "models": models}, schemas


def _kernels(config: dict[str, Any], env: dict[str, str]) -> buffer_types.BufferVerdict:
    """One server process, one choice: the extra buffer types only when every served base passes the probe."""
    verdicts = [buffer_types.extra_buffer_verdict(base, env) for base in dict.fromkeys(m["model"] for m in config["models"])]
    failed = [v for v in verdicts if not v.extra]
    return failed[0] if failed else verdicts[0]


def serve_command(folder: Path | list[Path], host: str, port: int, threads: int = 2, n_ctx: int = 2048) -> tuple[list[str], str]:
    """(argv of the llama.cpp server for the model(s) in `folder`, the first model id). The config
    file it names is written next to nothing: see LocalServer, which owns its lifetime."""
    folders = [folder] if isinstance(folder, Path) else list(folder)
    config, _ = _server_config(folders, host, port, threads, n_ctx)
    cmd = [sys.executable, "-m", "distilgen.train._llama_server", "--config_file", "<config>"]
    return cmd, str(config["models"][0]["model_alias"])


_SKIP_DIRS = {"node_modules", "__pycache__", "site-packages", "venv", "env"}


def project_model_folders(root: Path, lock_path: Path, max_depth: int = 4) -> list[Path]:
    """The folders of every `local:NAME` model the lock pins, found under the project root by their
    model.json's name (the lock records which model serves a function, not where it was written)."""
    from ..prompts.lock import load_lock

    wanted: dict[str, list[str]] = {}
    for entry in load_lock(lock_path):
        for model, _ in entry.models:
            if model.startswith("local:"):
                wanted.setdefault(model[len("local:"):], []).append(entry.function_id)
    if not wanted:
        raise UsageError(f"{lock_path}: no local:NAME model is recorded; train one with `distilgen train`, "
                         f"or name the folders: distilgen serve DIR [DIR...]")
    found: dict[str, Path] = {}
    start = len(root.parts)
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS
                         and len(here.parts) - start < max_depth)
        if "model.json" in files:
            try:
                name = json.loads((here / "model.json").read_text(encoding="utf-8")).get("name")
            except (OSError, ValueError, AttributeError):
                continue
            if name in wanted and name not in found:
                found[name] = here
    lost = sorted(set(wanted) - set(found))
    if lost:
        shown = ", ".join(f"local:{n} ({', '.join(wanted[n])})" for n in lost)
        raise UsageError(f"{lock_path}: no model folder under {root} holds {shown}; retrain it, "
                         f"or name the folders: distilgen serve DIR [DIR...]")
    return [found[n] for n in sorted(found)]


class LocalServer:
    """A running llama.cpp server; a context manager that always stops it."""

    def __init__(self, folder: str | Path | list[str | Path] | tuple[str | Path, ...], host: str = "127.0.0.1",
                 port: int | None = None, threads: int = 2, startup_timeout: float = 180.0, n_ctx: int = 2048) -> None:
        require_serve()
        self.folders = [Path(f) for f in (folder if isinstance(folder, (list, tuple)) else [folder])]
        if not self.folders:
            raise UsageError("no model folder to serve")
        for f in self.folders:
            if not f.is_dir():
                raise UsageError(f"{f}: no such model folder")
        self.folder = self.folders[0]
        self.n_ctx = n_ctx
        self.host = host
        self.port = port if port else free_port(host)
        self.threads = threads
        self.startup_timeout = startup_timeout
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self.info: ServeInfo | None = None

    def start(self) -> ServeInfo:
        config, schemas = _server_config(self.folders, self.host, self.port, self.threads, self.n_ctx)
        # one config file for every model: llama_cpp.server's own format, read once at start-up
        self._config: Any = tempfile.NamedTemporaryFile("w", suffix=".json", prefix="distilgen-serve-", delete=False)
        with self._config:
            json.dump(config, self._config)
        cmd = [sys.executable, "-m", "distilgen.train._llama_server", "--config_file", self._config.name]
        names = tuple(str(m["model_alias"]) for m in config["models"])
        self._log = tempfile.TemporaryFile()
        # llama_cpp.server lets HOST/PORT/CONFIG_FILE in the environment override its arguments
        env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT", "CONFIG_FILE")}
        env["DISTILGEN_TOOL_SCHEMAS"] = json.dumps(schemas)
        env["DISTILGEN_PARENT_PID"] = str(os.getpid())  # the server exits if we die without stopping it
        env.update(llama_thread_env(env))
        kernels = _kernels(config, env)
        env[buffer_types.ENV] = "1" if kernels.extra else "0"
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)
        base_url = f"http://{self.host}:{self.port}/v1"
        try:
            self._wait_ready(base_url)
        except BaseException:
            self.stop()
            raise
        self.info = ServeInfo(base_url, names[0], self.proc.pid, tuple(cmd), names, tuple(str(f) for f in self.folders),
                              ("extra (AMX / repacked)" if kernels.extra else "plain CPU") + f": {kernels.reason}")
        return self.info

    def _log_tail(self, lines: int = 15) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        text = self._log.read().decode("utf-8", "replace")
        return "\n".join(text.strip().splitlines()[-lines:])

    def _wait_ready(self, base_url: str) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + self.startup_timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise ServerFailed(f"the llama.cpp server exited with code {code} before answering:\n{self._log_tail()}")
            try:
                with urllib.request.urlopen(base_url + "/models", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, OSError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise ServerFailed(f"the llama.cpp server did not answer on {base_url} within "
                                   f"{self.startup_timeout:.0f}s:\n{self._log_tail()}")
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        elif proc is not None:
            proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        config = getattr(self, "_config", None)
        if config is not None:
            Path(config.name).unlink(missing_ok=True)
            self._config = None

    def __enter__(self) -> "LocalServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def start_server(folder: str | Path | list[str | Path], host: str = "127.0.0.1", port: int | None = None, threads: int = 2) -> LocalServer:
    server = LocalServer(folder, host, port, threads)
    server.start()
    return server


def serve_forever(folder: str | Path | list[str | Path], host: str = "127.0.0.1", port: int | None = 8080, threads: int = 2,
                  on_ready: Callable[[ServeInfo], None] | None = None) -> int:
    """Start the server, report it, and block until Ctrl-C/SIGTERM (then stop it) or until it dies."""
    server = LocalServer(folder, host, port, threads)
    stopping = threading.Event()

    def _term(signum: int, frame: Any) -> None:
        stopping.set()
        raise KeyboardInterrupt

    # Installed explicitly, SIGINT too: started from a background job (or anything that ignores
    # SIGINT), Python inherits SIG_IGN and Ctrl-C / kill -INT would never reach us.
    old: dict[signal.Signals, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _term)
    try:
        info = server.start()
        if on_ready is not None:
            on_ready(info)
        assert server.proc is not None
        code = server.proc.wait()
        if stopping.is_set():
            return 0
        raise ServerFailed(f"the llama.cpp server exited with code {code}:\n{server._log_tail()}")
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()
        for sig, handler in old.items():
            signal.signal(sig, handler)
