"""Wave 13 (infrahub-sdk, argilla, eth-ape; /tmp/w13/repros.md): a pytest fixture is no function
to distil, nor a def with no implementation (a body that only raises NotImplementedError, or
nothing but a docstring); a bare `...` or `pass` body is left to the other rules."""

from __future__ import annotations

from pathlib import Path

from test_scan_real_code import scanned_package

MODEL = "from pydantic import BaseModel\n\n\nclass M(BaseModel):\n    x: str\n"


def test_a_pytest_fixture_is_not_distilled(tmp_path: Path) -> None:
    """infrahub-sdk's `schema_base` fixtures were decorated: pytest calls them to set up a test."""
    got = scanned_package(tmp_path, "import pytest\nfrom pytest import fixture\n" + MODEL + """

@pytest.fixture
def schema_base(name: str) -> M:
    return M(x=name)


@pytest.fixture(scope="module")
def scoped(name: str) -> M:
    return M(x=name)


@fixture
def bare(name: str) -> M:
    return M(x=name)


def helper(name: str) -> M:
    return M(x=name)
""")
    reason = "a pytest fixture (pytest calls it to set up a test; no code makes the call)"
    assert got["schema_base"] == ("ineligible", reason)
    assert got["scoped"] == ("ineligible", reason)
    assert got["bare"] == ("ineligible", reason)
    assert got["helper"] == ("candidate", None)


def test_a_def_without_an_implementation_is_not_distilled(tmp_path: Path) -> None:
    """argilla's interface methods only raise NotImplementedError; eth-ape's hooks hold only a
    docstring: every call fails or answers None, never the model."""
    got = scanned_package(tmp_path, MODEL + '''

class Base(BaseModel):
    name: str

    def convert(self, text: str) -> M:
        """Subclasses convert."""
        raise NotImplementedError

    def convert_called(self, text: str) -> M:
        raise NotImplementedError("subclasses convert")

    def hook(self, text: str) -> M:
        """Ape calls this on plugins."""

    def dotted(self, text: str) -> M:
        ...

    def passing(self, text: str) -> M:
        pass

    def real(self, text: str) -> M:
        """A docstring and a body."""
        return M(x=self.name + text)

    def guarded(self, text: str) -> M:
        if not text:
            raise NotImplementedError
        return M(x=text)
''')
    raises = "has no implementation (its body only raises NotImplementedError)"
    assert got["Base.convert"] == ("ineligible", raises)
    assert got["Base.convert_called"] == ("ineligible", raises)
    assert got["Base.hook"] == ("ineligible", "has no implementation (its body is a docstring: every call answers None)")
    # a bare `...` or `pass` is how sketches and fixtures spell a body: left to the other rules
    assert got["Base.dotted"] == ("candidate", None)
    assert got["Base.passing"] == ("candidate", None)
    assert got["Base.real"] == ("candidate", None)
    assert got["Base.guarded"] == ("candidate", None)


def test_a_dispatch_stub_s_empty_body_is_what_it_should_be(tmp_path: Path) -> None:
    """`@instructions.distil(mode="dispatch", ...)` over `...`: the model answers, the body never runs."""
    got = scanned_package(tmp_path, "from pkg.distil import instructions\n" + MODEL + '''

@instructions.distil(mode="dispatch", model="ft:x")
def f(a: str) -> M:
    ...


@instructions.distil(mode="dispatch", model="ft:x")
def g(a: str) -> M:
    """Answered by the model: a docstring is all a dispatch stub needs."""


@instructions.distil(mode="dispatch", model="ft:x")
def h(a: str) -> M:
    raise NotImplementedError
''', distil="from distilgen import Instructions\ninstructions = Instructions()\n")
    assert got["f"] == ("decorated", None)
    assert got["g"] == ("decorated", None)
    assert got["h"] == ("decorated", None)


def test_a_plain_class_s_method_that_never_reads_self_survives_apply(tmp_path: Path) -> None:
    """crawl4ai's strategies (wave 13, defect 3): the scan passed `Strategy.raw` (its body never
    reads `self`: captured as `Strategy.raw(...)`), but `apply`'s schema child asked the plain class
    for a JSON schema and left it alone. Now scan, apply, prompts and check agree."""
    from test_interpreter import write

    from distilgen import api

    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "crawl"\n',
        "crawl/__init__.py": "",
        "crawl/m.py": "from pydantic import BaseModel\n\n\nclass Response(BaseModel):\n    html: str\n\n\n"
                      "class Strategy:\n    def raw(self, content: str) -> Response:\n"
                      "        return Response(html=content)\n\n"
                      "    def stateful(self, content: str) -> Response:\n"
                      "        return Response(html=content + str(id(self)))\n",
    })
    report = api.apply([root])
    assert "@instructions.distil\n    def raw(" in (root / "crawl" / "m.py").read_text(), report.notes
    scan = {r.qualname: r.status for r in api.scan([root], use_cache=False).results}
    assert scan == {"Strategy.raw": "decorated", "Strategy.stateful": "ineligible"}
    assert [r.findings for r in api.check([root])] == [()]
