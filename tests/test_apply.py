"""`distilgen apply` end to end on copies of sample_project and of the scan's tricky corpus."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from distilgen import api
from distilgen.cli import main
from distilgen.codemods import apply as apply_mod
from distilgen.codemods.edits import PlannedEdit, commit_edits, read_snapshot

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "scan_corpus"
MODEL = "ft:gpt-4o-mini:acme::abc123"


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*.py"))
        if ".distilgen_cache" not in p.parts and "__pycache__" not in p.parts
    }


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_diff_prints_a_unified_diff_and_writes_nothing(sample_copy: Path) -> None:
    before = snapshot(sample_copy)
    code, out, err = cli("apply", str(sample_copy), "--diff", "--no-lock")
    assert code == 0, err
    assert snapshot(sample_copy) == before
    assert "--- a/inbox/triage.py\n+++ b/inbox/triage.py\n" in out
    assert "+from inbox.distil import instructions\n" in out
    assert "+@instructions.distil\n def classify_ticket(subject: str, body: str) -> TriageResult:\n" in out
    assert "--- /dev/null\n+++ b/inbox/distil.py\n" in out
    assert "+    @instructions.distil\n     def summarise(" in out
    # wrapped / ineligible functions are never touched
    assert "maybe_order" not in out.split("def maybe_order")[0].rsplit("@@", 1)[-1] or "+@instructions.distil\n def maybe_order" not in out
    assert "+@instructions.distil\n def maybe_order" not in out and "+@instructions.distil\n def all_orders" not in out


def test_check_exits_1_while_changes_are_pending(sample_copy: Path) -> None:
    before = snapshot(sample_copy)
    code, out, _ = cli("apply", str(sample_copy), "--check", "--no-lock")
    assert code == 1 and "would change" in out
    assert snapshot(sample_copy) == before
    code, out, err = cli("apply", str(sample_copy), "--no-lock")
    assert code == 0, err
    assert "inbox/triage.py: decorated: classify_ticket" in out.replace(os.sep, "/")
    code, out, _ = cli("apply", str(sample_copy), "--check", "--no-lock")
    assert code == 0 and "0 files would change" in out


def test_apply_is_idempotent_and_remove_restores_every_byte(sample_copy: Path) -> None:
    original = snapshot(sample_copy)
    first = api.apply([sample_copy], lock=False)
    assert {e.path for e in first.changed} == {
        "inbox/catalog.py", "inbox/extract.py", "inbox/models/orders.py", "inbox/triage.py", "inbox/distil.py",
    }
    applied = snapshot(sample_copy)
    second = api.apply([sample_copy], lock=False)
    assert second.changed == () and second.errors == ()
    assert snapshot(sample_copy) == applied
    # the decorated project still imports and runs, and records examples
    run = subprocess.run([sys.executable, "-m", "inbox.app"], cwd=sample_copy, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(sample_copy)})
    assert run.returncode == 0, run.stderr
    assert len((sample_copy / "data" / "inbox.jsonl").read_text().splitlines()) == 8
    removed = api.apply([sample_copy], action="remove", lock=False)
    assert removed.errors == ()
    after = snapshot(sample_copy)
    created = after.pop("inbox/distil.py")
    assert after == original
    assert b"instructions = Instructions(" in created


def test_dispatch_then_capture_then_remove(sample_copy: Path) -> None:
    original = snapshot(sample_copy)
    api.apply([sample_copy], lock=False)
    decorated = snapshot(sample_copy)
    code, out, err = cli("apply", str(sample_copy), "--dispatch", "--model", MODEL, "--select", "classify_ticket",
                         "--no-lock")
    assert code == 0, err
    text = (sample_copy / "inbox/triage.py").read_text()
    assert f'@instructions.distil(mode="dispatch", model="{MODEL}")\ndef classify_ticket' in text
    # only the selected function changed
    assert snapshot(sample_copy)["inbox/extract.py"] == decorated["inbox/extract.py"]
    # a second dispatch to the same model changes nothing; a new model id is updated in place
    assert api.apply([sample_copy], action="dispatch", model=MODEL, select=["classify_ticket"], lock=False).changed == ()
    api.apply([sample_copy], action="dispatch", model="ft:new", select=["classify_ticket"], lock=False)
    assert '@instructions.distil(mode="dispatch", model="ft:new")' in (sample_copy / "inbox/triage.py").read_text()
    code, _, err = cli("apply", str(sample_copy), "--capture", "--no-lock")
    assert code == 0, err
    assert snapshot(sample_copy) == decorated
    api.apply([sample_copy], action="dispatch", model=MODEL, lock=False)
    api.apply([sample_copy], action="remove", lock=False)
    after = snapshot(sample_copy)
    after.pop("inbox/distil.py")
    assert after == original


def test_dispatch_pins_the_prompt_fingerprint_in_the_lock(sample_copy: Path) -> None:
    from distilgen.prompts.lock import load_lock

    api.apply([sample_copy])
    report = api.apply([sample_copy], action="dispatch", model=MODEL, select=["classify_ticket"])
    assert report.errors == ()
    assert report.pinned == ("inbox.triage:classify_ticket",)
    entry = load_lock(sample_copy / "distilgen.lock").get("inbox.triage:classify_ticket")
    assert entry is not None and dict(entry.models) == {MODEL: entry.fingerprint}
    # bound by hand (or with --no-lock) earlier: running the command again pins it, changing no file
    api.apply([sample_copy], action="dispatch", model="ft:second", select=["classify_ticket"], lock=False)
    again = api.apply([sample_copy], action="dispatch", model="ft:second", select=["classify_ticket"])
    assert again.changed == () and again.pinned == ("inbox.triage:classify_ticket",)
    entry = load_lock(sample_copy / "distilgen.lock").get("inbox.triage:classify_ticket")
    assert entry is not None and dict(entry.models)["ft:second"] == entry.fingerprint


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dispatch"], "--dispatch needs --model"),
        (["--model", "ft:x"], "--model only goes with --dispatch"),
        (["--dispatch", "--model", "ft:x", "--remove"], "cannot be combined"),
        (["--capture", "--remove"], "cannot be combined"),
    ],
)
def test_usage_errors_exit_2(sample_copy: Path, args: list[str], message: str) -> None:
    code, _, err = cli("apply", str(sample_copy), *args)
    assert code == 2 and message in err


def test_bad_instructions_setting_is_a_config_error(sample_copy: Path) -> None:
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"inbox.distil:instructions"', '"inbox.distil:not valid"'))
    code, _, err = cli("apply", str(sample_copy), "--no-lock")
    assert code == 2 and "instructions" in err and "pyproject.toml" in err


def test_a_missing_package_for_the_instance_module_is_a_config_error(sample_copy: Path) -> None:
    pyproject = sample_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"inbox.distil:instructions"', '"nowhere.sub.distil:instructions"'))
    code, _, err = cli("apply", str(sample_copy), "--no-lock")
    assert code == 2 and "package 'nowhere.sub' not found" in err


def test_an_existing_instance_module_is_used_not_created(sample_copy: Path) -> None:
    (sample_copy / "inbox" / "distil.py").write_text("from distilgen import Instructions\n\ninstructions = Instructions()\n")
    report = api.apply([sample_copy], lock=False)
    assert "inbox/distil.py" not in {e.path for e in report.edits}
    assert (sample_copy / "inbox" / "distil.py").read_text().endswith("instructions = Instructions()\n")


def test_an_instance_module_without_the_instance_is_a_config_error(sample_copy: Path) -> None:
    module = sample_copy / "inbox" / "distil.py"
    module.write_text("from distilgen import Instructions\n\nrecorder = Instructions()\n")
    before = (sample_copy / "inbox" / "triage.py").read_bytes()
    for args in (["--no-lock"], [], ["--diff"]):  # the same error whatever the schema child would answer
        code, _, err = cli("apply", str(sample_copy), *args)
        assert code == 2 and "distil.py" in err and "binds no name 'instructions'" in err, (args, err)
        assert (sample_copy / "inbox" / "triage.py").read_bytes() == before


def test_a_package_with_its_own_distil_module_gets_the_instance_beside_it(tmp_path: Path) -> None:
    """instructor ships `instructor/distil.py`: the default one-part instance module must not be
    taken for it (every function was left alone, blamed on its model's module)."""
    pkg = tmp_path / "proj" / "pkg"
    pkg.mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    (pkg / "__init__.py").write_text("")
    own = b'"""The project\'s own module called distil."""\n\n\ndef distil_text(text: str) -> str:\n    return text.strip()\n'
    (pkg / "distil.py").write_bytes(own)
    original = b"from pydantic import BaseModel\n\n\nclass Answer(BaseModel):\n    text: str\n\n\ndef answer(q: str) -> Answer:\n    return Answer(text=q)\n"
    (pkg / "models.py").write_bytes(original)
    root = tmp_path / "proj"
    report = api.apply([root])
    assert not report.errors and not report.notes, (report.errors, report.notes)
    assert (pkg / "distilgen_instructions.py").is_file() and (pkg / "distil.py").read_bytes() == own
    assert "from pkg.distilgen_instructions import instructions" in (pkg / "models.py").read_text()
    assert api.apply([root], write=False).changed == ()  # idempotent: the same placement again
    code, out, err = cli("check", str(root))
    assert code == 0, out + err
    api.apply([root], action="remove")
    assert (pkg / "models.py").read_bytes() == original and (pkg / "distil.py").read_bytes() == own


def test_only_files_that_need_edits_are_parsed(sample_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []
    real = apply_mod.edit_module

    def spy(source, targets, instance, action="decorate", **kw):  # type: ignore[no-untyped-def]
        seen.append(kw["module"])
        return real(source, targets, instance, action, **kw)

    monkeypatch.setattr(apply_mod, "edit_module", spy)
    api.apply([sample_copy], select=["classify_ticket"], lock=False)
    assert seen == ["inbox.triage"]
    seen.clear()
    api.apply([sample_copy], select=["classify_ticket"], lock=False)
    assert seen == []  # already decorated: the scan says so, no file is parsed


def test_permissions_are_kept(sample_copy: Path) -> None:
    target = sample_copy / "inbox" / "triage.py"
    target.chmod(0o640)
    api.apply([sample_copy], select=["classify_ticket"], lock=False)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert b"@instructions.distil" in target.read_bytes()
    assert not list(target.parent.glob(".*.distilgen-*.tmp"))  # _atomic.TEMP_GLOB


def test_a_file_changed_on_disk_is_not_overwritten_and_others_go_on(tmp_path: Path) -> None:
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("x = 1\n")
    b.write_text("y = 1\n")
    planned = [
        PlannedEdit("a.py", read_snapshot(a), b"x = 2\n"),
        PlannedEdit("b.py", read_snapshot(b), b"y = 2\n"),
    ]
    a.write_text("x = 'edited by someone else'\n")
    edits = commit_edits(tmp_path, planned, write=True)
    assert [e.status for e in edits] == ["error", "changed"]
    assert "changed on disk since it was read" in (edits[0].reason or "")
    assert a.read_text() == "x = 'edited by someone else'\n" and b.read_text() == "y = 2\n"


def test_output_that_does_not_parse_is_not_written(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text("x = 1\n")
    [edit] = commit_edits(tmp_path, [PlannedEdit("a.py", read_snapshot(a), b"x = (\n")], write=True)
    assert edit.status == "error" and "does not parse" in (edit.reason or "")
    assert a.read_text() == "x = 1\n"


def test_nothing_is_written_outside_the_root(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "real.py").write_text("x = 1\n")
    (root / "link.py").symlink_to(outside / "real.py")
    [edit] = commit_edits(root, [PlannedEdit("link.py", read_snapshot(root / "link.py"), b"x = 2\n")], write=True)
    assert edit.status == "error" and "outside the scanned root" in (edit.reason or "")
    assert (outside / "real.py").read_text() == "x = 1\n"


def test_a_broken_file_is_reported_and_the_others_are_processed(sample_copy: Path) -> None:
    # valid for the scan's parser, but the file vanishes between the scan and the edit
    report = api.scan([sample_copy])
    (sample_copy / "inbox" / "triage.py").unlink()
    from distilgen.config import load_config

    result = apply_mod.apply_codemod(report, load_config(sample_copy), write=True)
    errors = {e.path: e.reason for e in result.errors}
    assert list(errors) == ["inbox/triage.py"] and "gone" in (errors["inbox/triage.py"] or "")
    assert b"@instructions.distil" in (sample_copy / "inbox" / "extract.py").read_bytes()


def test_cli_reports_a_failed_file_with_exit_1(sample_copy: Path) -> None:
    # a function the scan found is renamed behind its back: reported, the other files still written
    report = api.scan([sample_copy])
    triage = sample_copy / "inbox" / "triage.py"
    triage.write_text(triage.read_text().replace("def classify_ticket", "def classify_ticket_renamed"))
    from distilgen.config import load_config

    result = apply_mod.apply_codemod(report, load_config(sample_copy), write=True)
    assert [e.path for e in result.errors] == ["inbox/triage.py"]
    assert "no function classify_ticket here any more" in (result.errors[0].reason or "")
    assert "@instructions.distil" not in triage.read_text()
    assert "@instructions.distil" in (sample_copy / "inbox" / "catalog.py").read_text()


# -- the scan's tricky corpus -------------------------------------------------------------------


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    if not CORPUS.is_dir():
        pytest.skip("tests/scan_corpus not present")
    dest = tmp_path / "scan_corpus"
    shutil.copytree(CORPUS, dest, ignore=shutil.ignore_patterns("__pycache__", ".distilgen_cache"))
    return dest


def test_corpus_apply_idempotent_and_remove_round_trip(corpus_copy: Path) -> None:
    original = snapshot(corpus_copy)
    first = api.apply([corpus_copy], lock=False)
    assert first.errors == ()
    assert len(first.changed) >= 10
    rescan = api.scan([corpus_copy], use_cache=False)
    # all but the @overload implementation without an annotation of its own (left alone, with a note)
    assert [r.qualname for r in rescan.by_status("candidate")] == ["same"]
    assert api.apply([corpus_copy], lock=False).changed == ()
    api.apply([corpus_copy], action="dispatch", model=MODEL, lock=False)
    dispatched = api.scan([corpus_copy], use_cache=False).by_status("decorated")
    assert all(r.decorator is not None and r.decorator.mode == "dispatch" and r.decorator.model == MODEL
               for r in dispatched)
    removed = api.apply([corpus_copy], action="remove", lock=False)
    # a decorator bound to another Instructions instance is not apply's: kept unless --select names it
    assert f'@local.distil(mode="dispatch", model="{MODEL}")\ndef local_instance' in (corpus_copy / "corpus/decorated.py").read_text()
    assert any("local_instance: bound to corpus.decorated:local, not to corpus.distil:instructions" in n
               for n in removed.notes)
    api.apply([corpus_copy], action="remove", select=["local_instance"], lock=False)
    after = snapshot(corpus_copy)
    # every file apply touched is back to its bytes; decorated.py also lost the decorators it had
    for path, data in original.items():
        if path != "corpus/decorated.py":
            assert after[path] == data, path
    assert any("corpus/overloads.py:10: same: the definition has no return annotation" in n for n in first.notes)
    left = after["corpus/decorated.py"].decode()
    assert "@fake.distil\ndef fake_decorator" in left
    assert "instructions.distil" not in left and "inst2.distil" not in left and "local.distil" not in left
    assert "import corpus.distil as d" not in left and "from corpus.distil import instructions" not in left


def test_select_matching_nothing_is_a_usage_error_and_left_alone_functions_are_named(sample_copy: Path) -> None:
    code, _, err = cli("apply", str(sample_copy), "--select", "clasify_ticket", "--no-lock")
    assert code == 2 and "--select clasify_ticket: no function returning a model matches" in err
    code, out, err = cli("apply", str(sample_copy), "--select", "maybe_order", "--select", "classify_ticket",
                         "--dispatch", "--model", MODEL, "--no-lock")
    assert code == 0, err
    assert "inbox/extract.py:33: maybe_order: wrapped (wrapped in Optional); left alone" in err
    assert f"inbox/triage.py: bound to {MODEL} (dispatch): classify_ticket" in out.replace(os.sep, "/")


# -- files that cannot be parsed, write order, lock failures (issue 13 items 8, 9) -------------


def test_apply_and_check_report_files_they_cannot_parse(sample_copy: Path) -> None:
    (sample_copy / "inbox" / "broken.py").write_text("def oops(:\n    pass\n")
    code, out, err = cli("apply", str(sample_copy), "--check", "--no-lock")
    assert code == 2  # a file that cannot be edited is a failed operation (ruff format: exit 2), not a finding
    assert "inbox/broken.py: error: cannot be scanned" in err.replace(os.sep, "/")
    code, out, err = cli("apply", str(sample_copy), "--no-lock")
    assert code == 2 and "inbox/broken.py: error: cannot be scanned" in err.replace(os.sep, "/")
    # the other files were still decorated
    assert "@instructions.distil" in (sample_copy / "inbox" / "triage.py").read_text()


def test_the_instructions_module_is_written_before_the_files_that_import_it(
    sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distilgen.codemods import edits as edits_mod

    order: list[str] = []
    real = edits_mod.write_atomic

    def spy(snap, data):  # type: ignore[no-untyped-def]
        order.append(snap.path.relative_to(sample_copy.resolve()).as_posix())
        real(snap, data)

    monkeypatch.setattr(edits_mod, "write_atomic", spy)
    api.apply([sample_copy], lock=False)
    assert order[0] == "inbox/distil.py" and len(order) == 5


def test_no_file_imports_an_instructions_module_that_could_not_be_written(
    sample_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from distilgen.codemods import edits as edits_mod

    before = snapshot(sample_copy)
    real = edits_mod.write_atomic

    def failing(snap, data):  # type: ignore[no-untyped-def]
        if snap.data is None:
            raise OSError(28, "No space left on device")
        real(snap, data)

    monkeypatch.setattr(edits_mod, "write_atomic", failing)
    code, out, err = cli("apply", str(sample_copy), "--no-lock")
    assert code == 2
    assert "inbox/distil.py: error: cannot write: [Errno 28] No space left on device" in err.replace(os.sep, "/")
    assert "inbox/triage.py: error: not written: the instructions module it would import could not be created" \
        in err.replace(os.sep, "/")
    assert snapshot(sample_copy) == before


def test_a_lock_that_cannot_be_written_after_dispatch_says_how_to_finish(sample_copy: Path) -> None:
    api.apply([sample_copy], lock=False)
    pyproject = sample_copy / "pyproject.toml"
    # a lock in a folder that does not exist cannot be written, whoever runs the test (root too)
    pyproject.write_text(pyproject.read_text().replace('lock-file = "distilgen.lock"', 'lock-file = "gone/distilgen.lock"'))
    code, out, err = cli("apply", str(sample_copy), "--dispatch", "--model", MODEL, "--select", "classify_ticket")
    assert code == 2
    [line] = err.strip().splitlines()
    assert line.startswith("distilgen: error: gone/distilgen.lock: cannot write the lock (")
    assert f"the source is already bound to {MODEL} (inbox/triage.py)" in line
    assert f"run the same `distilgen apply --dispatch --model {MODEL}` again" in line
    assert f'model="{MODEL}"' in (sample_copy / "inbox" / "triage.py").read_text()
    # once the lock can be written, the same command pins it and changes no file
    (sample_copy / "gone").mkdir()
    again = api.apply([sample_copy], action="dispatch", model=MODEL, select=["classify_ticket"])
    assert again.changed == () and again.pinned == ("inbox.triage:classify_ticket",)


def test_a_diff_through_a_form_feed_applies_with_git(tmp_path: Path) -> None:
    """The diff's lines end where the file's do: a form feed (kept in some projects' comments)
    used to cut a line in two, with a "No newline" marker inside the hunk and wrong counts."""
    from distilgen.codemods.edits import unified_diff

    old = b"x = 1\n# page\x0cbreak\ndef f():\n    pass\n"
    new = b"x = 1\n# page\x0cbreak\n@d\ndef f():\n    pass\n"
    diff = unified_diff("m.py", old, new)
    assert "No newline" not in diff and "@@ -1,4 +1,5 @@" in diff
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "m.py").write_bytes(old)
    (tmp_path / "change.diff").write_text(diff, encoding="utf-8", newline="")
    done = subprocess.run(["git", "apply", "change.diff"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "m.py").read_bytes() == new


def _call_installed_and_tree(tree: Path, package: str, call: str, tmp_path: Path) -> tuple[Path, Path]:
    """Run `call` from a working folder twice: with `package` copied into a site folder (what
    installing it without `-e` puts there), then from the source `tree`. (site, working folder)."""
    site, work = tmp_path / "site", tmp_path / "work"
    shutil.copytree(tree / package, site / package)
    work.mkdir()
    for where in (site, tree):
        run = subprocess.run([sys.executable, "-c", call], cwd=work, capture_output=True, text=True, timeout=60,
                             env={**os.environ, "PYTHONPATH": f"{where}{os.pathsep}{ROOT}"})
        assert run.returncode == 0, run.stderr
    return site, work


def test_an_installed_copy_writes_its_examples_to_the_working_directory(sample_copy: Path, tmp_path: Path) -> None:
    """Found running real projects' test suites after `apply`: the created module anchored the
    dataset at `__file__`'s parents, so a package installed without `-e` wrote into site-packages.
    From the source tree it still goes under the project root, wherever the program runs."""
    api.apply([sample_copy], lock=False)
    site, work = _call_installed_and_tree(
        sample_copy, "inbox", "from inbox.triage import classify_ticket\nclassify_ticket('Refund please', 'I was charged twice')\n",
        tmp_path)
    assert (work / "data" / "inbox.jsonl").read_text().count('"role":"user"') == 1  # the installed copy's
    assert (sample_copy / "data" / "inbox.jsonl").read_text().count('"role":"user"') == 1  # the tree's
    assert not list(site.rglob("*.jsonl"))


@pytest.mark.parametrize("marker", ["setup.py", "setup.cfg", None])
def test_an_installed_copy_of_a_project_without_pyproject_writes_to_the_working_directory(
        tmp_path: Path, marker: str | None) -> None:
    """Wave 5: a setup.py-only project (and arize-phoenix's wheel tree, with no project file at
    all) got the instructions module without the installed-copy guard, so an installed copy wrote
    its dataset into site-packages. The guard's marker is the root's setup.py or setup.cfg, else
    the lock `apply` writes beside it."""
    root = tmp_path / "proj"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "price.py").write_text(
        "from pydantic import BaseModel\n\n\nclass Quote(BaseModel):\n    cents: int\n\n\n"
        "def quote(item: str, qty: int) -> Quote:\n    return Quote(cents=len(item) * qty)\n")
    if marker is not None:
        (root / marker).write_text("from setuptools import setup\nsetup()\n" if marker == "setup.py" else "[metadata]\n")
    api.apply([root], lock=marker is None)
    module = (root / "shop" / "distil.py").read_text()
    assert f'if not (_ROOT / "{marker or "distilgen.lock"}").is_file():' in module
    site, work = _call_installed_and_tree(root, "shop", "from shop.price import quote\nquote('tea', 2)\n", tmp_path)
    [installed] = [p for p in work.rglob("*.jsonl")]  # the installed copy's, in the working directory
    assert installed.read_text().count('"role":"user"') == 1
    assert not list(site.rglob("*.jsonl"))
    assert [p.relative_to(root) for p in root.rglob("*.jsonl")] == [installed.relative_to(work)]  # the tree's
