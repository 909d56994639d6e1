"""Build a project's wheel offline and install it alone in a new venv (shared by the wheel tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def build_wheel(project: Path, dist: Path, pattern: str = "*.whl") -> Path:
    """`pip wheel` with the build backend of this interpreter (no isolation, no index: offline)."""
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                            "-q", "-w", str(dist), str(project)], capture_output=True, text=True, timeout=300)
    assert build.returncode == 0, build.stderr
    [wheel] = dist.glob(pattern)
    return wheel


def install_alone(wheel: Path, venv: Path) -> Path:
    """A new venv (no pip) holding only `wheel`; returns its site-packages folder."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c",
                                "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target",
                              str(site), str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    return site
