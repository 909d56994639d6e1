"""`apply --diff`/`--check` agree with what `apply` did: what it left alone is remembered.

`apply` (with the lock) asks the project's interpreter for each return model's schema and leaves
alone what it cannot describe; `--diff` and `--check` import nothing, so they read that verdict from
`.distilgen_cache/left-alone-*.json` (`codemods/left_alone.py`) while it still holds: same
interpreter, same return model (its closure digest, as `check` computes it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from test_apply_schema_child import REPO, cli, decorated, gcp_project
from test_interpreter import write

# the models module kept minimal: only `total`, `get_security` and `from_env` are candidates
PROJECT = gcp_project("from pydantic import BaseModel\n\n\nclass Good(BaseModel):\n    total: int\n")
LEFT_ALONE = ("Client.__init__.<locals>.get_security", "from_env")


def applied(tmp_path: Path) -> Path:
    root = write(tmp_path / "proj", PROJECT)
    done = cli(root, "apply")
    assert done.returncode == 0, done.stderr
    assert decorated(root) == {"total"}
    return root


def memory(root: Path) -> list[Path]:
    return sorted((root / ".distilgen_cache").glob("left-alone-*.json"))


def test_check_after_apply_remembers_what_it_left_alone(tmp_path):
    root = applied(tmp_path)
    sources = {p: p.read_bytes() for p in root.rglob("*.py")}
    check = cli(root, "apply", "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 files would change" in check.stdout
    for name in LEFT_ALONE:
        [line] = [ln for ln in check.stderr.splitlines() if f": {name}: " in ln]
        assert "left alone: " in line and "install not_installed_cloud_auth" in line, line
        assert "remembered from the last `distilgen apply`" in line, line
    diff = cli(root, "apply", "--diff")
    assert diff.returncode == 0 and diff.stdout.strip() == "", diff.stdout
    assert "remembered" in diff.stderr
    # --no-lock means "do not ask the interpreter": every candidate is planned
    raw = cli(root, "apply", "--check", "--no-lock")
    assert raw.returncode == 1 and "shop/gcp/sdk.py" in raw.stdout and "shop/gcp/tokens.py" in raw.stdout
    assert "remembered" not in raw.stderr
    # a new candidate is still pending, the remembered ones are not
    (root / "shop/logic.py").write_text((root / "shop/logic.py").read_text()
                                        + "\n\ndef twice(a: int) -> Good:\n    return Good(total=2 * a)\n")
    check = cli(root, "apply", "--check")
    assert check.returncode == 1 and "shop/logic.py: would be decorated: twice" in check.stdout, check.stdout
    assert "sdk.py" not in check.stdout and "tokens.py" not in check.stdout
    assert {p: p.read_bytes() for p in root.rglob("*.py") if p.name != "logic.py"} == \
        {p: b for p, b in sources.items() if p.name != "logic.py"}


def test_installing_the_dependency_then_apply_decorates_and_forgets(tmp_path):
    root = applied(tmp_path)
    assert len(memory(root)) == 1 and "from_env" in memory(root)[0].read_text()
    # "install" it: the project's interpreter can import it now (the project root is on its path)
    (root / "not_installed_cloud_auth.py").write_text("")
    done = cli(root, "apply")
    assert done.returncode == 0 and "left alone" not in done.stderr, done.stderr
    assert decorated(root) == {"total", *LEFT_ALONE}
    check = cli(root, "apply", "--check")
    assert check.returncode == 0 and "remembered" not in check.stderr, check.stderr
    assert "from_env" not in memory(root)[0].read_text()


def test_editing_the_return_model_forgets_the_verdict(tmp_path):
    root = applied(tmp_path)
    security = root / "shop/gcp/security.py"
    security.write_text(security.read_text() + "    region: str = 'eu'\n")
    check = cli(root, "apply", "--check")
    assert check.returncode == 1, check.stdout + check.stderr
    assert "shop/gcp/sdk.py: would be decorated" in check.stdout and "shop/gcp/tokens.py" in check.stdout
    assert "remembered" not in check.stderr
    # another interpreter (here the same one under another path) asks again as well
    security.write_text(PROJECT["shop/gcp/security.py"])
    assert cli(root, "apply", "--check").returncode == 0
    other = tmp_path / "bin" / "python"
    other.parent.mkdir()
    other.symlink_to(sys.executable)
    check = cli(root, "apply", "--check", "--python", str(other))
    assert check.returncode == 1 and "remembered" not in check.stderr, check.stdout + check.stderr


def test_a_corrupt_or_old_memory_is_ignored(tmp_path):
    root = applied(tmp_path)
    [file] = memory(root)
    good = file.read_text()
    sources = {p: p.read_bytes() for p in root.rglob("*.py")}
    for bad in ("{not json", "[]", '{"format": 0, "entries": {}}', good.replace('"closure":"', '"closure":"x'),
                good.replace('"entries":{', '"entries":{"shop/x.py::f":7,'), "\x00\xff",
                good.replace('"why":"left alone: ', '"why":"left alone:\\nforged line: '), good[: len(good) // 2]):
        file.write_text(bad, encoding="utf-8", errors="surrogateescape")
        check = cli(root, "apply", "--check")
        assert "Traceback" not in check.stderr, check.stderr
        # what cannot be trusted is not used: the candidates are pending again, nothing written
        expect = 0 if '"shop/x.py::f":7' in bad else 1
        assert check.returncode == expect, (bad, check.stdout, check.stderr)
        assert {p: p.read_bytes() for p in root.rglob("*.py")} == sources
    # apply asks again and writes it anew
    file.write_text("{not json")
    assert cli(root, "apply").returncode == 0
    assert cli(root, "apply", "--check").returncode == 0
    assert decorated(root) == {"total"}


def test_installing_into_the_interpreters_path_forgets_without_apply(tmp_path):
    """A package installed where the project's interpreter looks (here a folder on its sys.path:
    the running interpreter with that folder on PYTHONPATH, set for the child processes only)
    changes that folder's mtime: `--check` forgets at once, before any `apply`."""
    site = tmp_path / "site"
    site.mkdir()
    root = write(tmp_path / "proj", PROJECT)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(site)])}
        return subprocess.run([sys.executable, "-m", "distilgen", *args], cwd=root, capture_output=True, text=True,
                              timeout=180, env=env)

    assert run("apply").returncode == 0 and decorated(root) == {"total"}
    assert run("apply", "--check").returncode == 0
    (site / "not_installed_cloud_auth.py").write_text("")  # "pip install" it
    check = run("apply", "--check")
    assert check.returncode == 1 and "remembered" not in check.stderr, check.stdout + check.stderr
    assert "shop/gcp/sdk.py: would be decorated" in check.stdout
    assert run("apply").returncode == 0 and decorated(root) == {"total", *LEFT_ALONE}
    assert run("apply", "--check").returncode == 0


def test_require_decorated_says_why_apply_leaves_a_candidate_alone(tmp_path):
    root = write(tmp_path / "proj", {**PROJECT, "pyproject.toml": '[project]\nname = "shop"\n\n'
                                                                 "[tool.distilgen]\nrequire-decorated = true\n"})
    done = cli(root, "apply")
    assert done.returncode == 0, done.stderr
    check = cli(root, "check")
    assert check.returncode == 1, check.stdout + check.stderr
    dg007 = [ln for ln in check.stdout.splitlines() if " DG007 " in ln]
    assert len(dg007) == len(LEFT_ALONE), check.stdout
    for line in dg007:
        # not the old advice (an `apply --select` that would leave it alone again): why, and the way out
        assert "apply --select" not in line and "`distilgen apply` leaves it alone (" in line, line
        assert "install not_installed_cloud_auth" in line and line.endswith("fix that, or exclude the function"), line
    # without the memory (another machine, a fresh clone) the advice is the plain one
    for f in memory(root):
        f.unlink()
    plain = cli(root, "check")
    assert plain.returncode == 1 and plain.stdout.count("run `distilgen apply --select '") == len(LEFT_ALONE), plain.stdout
