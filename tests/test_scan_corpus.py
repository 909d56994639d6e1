"""Scan accuracy: the corpus scanned statically must agree with what the interpreter says about it.

The ground truth (tests/scan_corpus/ground_truth.py) imports the corpus in a fresh interpreter and
resolves every return type with `typing.get_type_hints`; it shares no code with the scanner.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from distilgen import api
from distilgen.config import load_config

CORPUS = Path(__file__).parent / "scan_corpus"
SITE = CORPUS / "_site"  # an "installed" SDK: on the path, not in the scanned files


@pytest.fixture(scope="module")
def truth() -> dict:
    out = subprocess.run([sys.executable, str(CORPUS / "ground_truth.py"), str(CORPUS)], check=True,
                         capture_output=True, text=True, timeout=120)
    return json.loads(out.stdout)


@pytest.fixture(scope="module")
def report():
    sys.path.insert(0, str(SITE))
    try:
        return api.scan([CORPUS], config=load_config(CORPUS), include_generated=True, use_cache=False)
    finally:
        sys.path.remove(str(SITE))


def _key(r) -> tuple:
    dec = r.decorator
    return (r.status, r.model, (dec.instance, dec.mode, dec.model) if dec else None)


def _truth_key(t: dict) -> tuple:
    d = t.get("decorator")
    return (t["status"], t["model"], (d["instance"], d["mode"], d["model"]) if d else None)


def test_every_function_matches_the_runtime(truth, report):
    importable = {r.module for r in report.results} - set(truth["unimportable"])
    expected = {t["function_id"]: _truth_key(t) for t in truth["results"]}
    found = {r.function_id: _key(r) for r in report.results if r.module in importable}
    assert len(expected) >= 70  # the corpus is not accidentally empty
    missing = sorted(set(expected) - set(found))
    extra = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(found) & set(expected) if found[k] != expected[k])
    assert (missing, extra, [(k, found[k], expected[k]) for k in wrong]) == ([], [], [])


def test_precision_and_recall_on_direct_returns(truth, report):
    """The figures docs/scan-accuracy.md reports: a hit needs the same function and model."""
    unimportable = set(truth["unimportable"])
    expected = {(t["function_id"], t["model"]) for t in truth["results"] if t["status"] != "wrapped"}
    found = {(r.function_id, r.model) for r in report.results
             if r.module not in unimportable and r.status not in ("wrapped", "unresolved")}
    tp = len(expected & found)
    assert tp / len(found) == 1.0 and tp / len(expected) == 1.0


def test_positions_match_the_interpreter(truth, report):
    by_id = {r.function_id: r for r in report.results}
    for t in truth["results"]:
        r = by_id[t["function_id"]]
        assert (r.decorator_lineno, r.end_lineno) == (t["first_line"], t["last_line"]), t["function_id"]
        assert r.decorator_lineno <= r.lineno <= r.end_lineno


def test_unimportable_module_is_reported_unresolved_with_reasons(truth, report):
    assert "corpus.unresolvable" in truth["unimportable"]
    got = {r.qualname: (r.status, r.reason) for r in report.results if r.module == "corpus.unresolvable"}
    assert got == {
        "mystery": ("unresolved", "module 'nowhere_sdk' is not in the scanned files and not on the Python path"),
        "built": ("unresolved", "base Mystery of corpus.unresolvable.Built: module 'nowhere_sdk' is not in the "
                                "scanned files and not on the Python path"),
        "undefined_name": ("unresolved", "name 'NoSuchName' is not defined in corpus.unresolvable"),
    }


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="3.12+ imports the file: the ground truth covers it")
def test_python312_syntax_is_read_on_older_interpreters(truth, report):
    assert "py312.type_statement" in truth["unimportable"]
    got = {r.qualname: (r.status, r.model) for r in report.results if r.module == "py312.type_statement"}
    assert got == {
        "via_type_statement": ("candidate", "corpus.models.core.Item"),
        "via_type_optional": ("wrapped", "corpus.models.core.Item"),
        "generic_function": ("candidate", "corpus.models.core.Page[corpus.models.core.Item]"),
        "box": ("candidate", "py312.type_statement.Box"),
    }
    box = next(r for r in report.results if r.qualname == "box")
    lines = (CORPUS / "py312" / "type_statement.py").read_text().splitlines()
    assert (box.lineno, box.col) == (lines.index("def box(name: str) -> Box:") + 1, 1)  # rewriting kept the lines


def test_reasons_name_the_wrapper_and_the_cause(report):
    reasons = {r.qualname: r.reason for r in report.results if r.module in ("corpus.shapes", "corpus.methods")}
    assert reasons["optional"] == reasons["pipe_none"] == reasons["union_none"] == "wrapped in Optional"
    assert reasons["a_list"] == "wrapped in list"
    assert reasons["a_typing_list"] == "wrapped in List"
    assert reasons["a_dict"] == "wrapped in Dict"
    assert reasons["a_union"] == reasons["a_pipe_union"] == "wrapped in Union"
    assert reasons["a_generator"] == "generator"
    assert reasons["async_gen"] == "async generator"
    assert reasons["only_varargs"] == "takes only *args/**kwargs"
    assert reasons["Service.instance"].startswith("instance method of non-model class Service")
    assert reasons["Service.prop"].startswith("property")
    assert reasons["Renamer.renamed"] is None
    state = {r.qualname: r.reason for r in report.results if r.module == "corpus.private_state"}
    assert state["Cached.read"] == ("reads private state `self._cache` (not in the call: an instance is "
                                    "written with its fields only)")
    assert state["Cached.counted"].startswith("reads private state `self._hits`")
    assert state["Derived.inherited"].startswith("reads private state `self._cache`")  # a base's
    assert state["FromOtherModule.reads_base_state"].startswith("reads private state `self._origin`")  # another module's base
    assert state["Cached.shared"] is None and state["Cached.helped"] is None  # a ClassVar, a private method
    params = {r.qualname: r.reason for r in report.results if r.module == "corpus.parameters"}
    assert params["live"] == "parameter db is of class corpus.parameters.Database (no call can write its value)"
    assert params["callback_alias"] == "parameter rewrite is a Callable (no call can write its value)"
    assert params["an_exception"].startswith("parameter error is an exception (corpus.parameters.Refused)")
    assert params["a_logger"].startswith("parameter log is of class logging.Logger")
    assert params["either"] is None and params["writable"] is None and params["generic"] is None


def test_kinds_and_async(report):
    got = {r.function_id: (r.kind, r.is_async) for r in report.results}
    assert got["corpus.methods:Service.static"] == ("staticmethod", False)
    assert got["corpus.methods:Service.klass"] == ("classmethod", False)
    assert got["corpus.methods:Service.async_method"] == ("method", True)
    assert got["corpus.methods:top_async"] == ("function", True)
    assert got["corpus.nesting:outer.<locals>.inner"] == ("nested", False)
    assert got["corpus.nesting:outer.<locals>.Helper.make"] == ("staticmethod", False)
    assert got["corpus.decorated:Tools.static_decorated"] == ("staticmethod", False)


def test_generated_files_are_read_but_not_reported_by_default(report):
    plain = api.scan([CORPUS], config=load_config(CORPUS), use_cache=False)
    ids = {r.function_id for r in plain.results}
    assert "corpus.generated_models:generated_factory" not in ids
    # ... while its classes still resolve for the files that use them
    assert "corpus.uses_generated:from_generated" in ids
    assert "corpus.generated_models:generated_factory" in {r.function_id for r in report.results}
