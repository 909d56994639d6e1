import os
import subprocess
import sys

from distilgen import __version__


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    return subprocess.run([sys.executable, "-m", "distilgen", *args], capture_output=True, text=True, env=env, timeout=60)


def test_version_without_api_key() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and __version__ in proc.stdout


def test_help_without_api_key() -> None:
    proc = run("--help")
    assert proc.returncode == 0 and "Usage:" in proc.stdout and proc.stderr == ""
