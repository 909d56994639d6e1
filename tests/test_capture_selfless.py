"""Wave 11 (python-on-whales): a method of a plain class whose body never uses `self` answers
from its other arguments alone. The scan lists it as a candidate (tests/test_scan_wave11_rest.py);
capture writes its call as `Cls.method(...)` without the instance, and dispatch sends that text.
One whose body reads `self`, `super()` or `__class__` is still refused at decoration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from distilgen import DecorationError, Instructions
from distilgen.config import Config
from distilgen.testing import FakeOpenAI


class Container(BaseModel):
    id: str
    running: bool


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_selfless_method_is_captured_without_its_instance(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    class DockerCLICaller:
        def __init__(self, config: object) -> None:
            self.config = config  # live state no call text could hold

        @inst.distil
        def _parse_json_object(self, json_object: dict[str, Any]) -> Container:
            return Container(id=json_object["Id"], running=json_object["State"]["Running"])

    caller = DockerCLICaller(object())
    got = caller._parse_json_object({"Id": "abc", "State": {"Running": True}})
    assert got == Container(id="abc", running=True)
    (ex,) = lines(ds)
    assert ex["messages"][1]["content"] == ("Return DockerCLICaller._parse_json_object("
                                            "{'Id': 'abc', 'State': {'Running': True}})")
    assert inst.stats().captured == 1

    # dispatched: the same text is sent, and the answer read back, with no instance in the call
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: {"id": "xyz", "running": False})
        dispatched = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0),
                                  config=Config(root=tmp_path), max_retries=0)

        class Other:
            @dispatched.distil(mode="dispatch", model="ft:m")
            def _parse_json_object(self, json_object: dict[str, Any]) -> Container:
                return Container(id=json_object["Id"], running=True)

        assert Other()._parse_json_object({"Id": "xyz"}) == Container(id="xyz", running=False)
        (req,) = [json.loads(r.body) for r in srv.requests_to("/v1/chat/completions")]
    assert req["messages"][-1]["content"] == "Return Other._parse_json_object({'Id': 'xyz'})"


def test_a_method_reading_its_instance_is_still_refused(tmp_path: Path) -> None:
    inst = Instructions(dataset=tmp_path / "d.jsonl")

    with pytest.raises(DecorationError, match=r"Service\.run.*not a pydantic model.*whose body reads self"):
        class Service:
            base = 1

            @inst.distil
            def run(self, a: int) -> Container:
                return Container(id=str(a + self.base), running=True)

    class Base:
        def run(self, a: int) -> Container:
            return Container(id=str(a), running=True)

    with pytest.raises(DecorationError, match=r"Child\.run.*whose body reads super"):
        class Child(Base):
            @inst.distil
            def run(self, a: int) -> Container:
                return super().run(a)


def test_a_dataclass_method_is_captured_with_its_instance(tmp_path: Path) -> None:
    """Wave 10, hera 7's `ArchiveStrategy._build_archive_strategy()`: a dataclass's instance is
    written into the call as a model's is (tests/test_scan_wave11_rest.py judges such a method)."""
    import dataclasses

    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @dataclasses.dataclass(kw_only=True)
    class TarArchiveStrategy:
        compression_level: int | None = None

        @inst.distil
        def _build_archive_strategy(self) -> Container:
            return Container(id=f"tar:{self.compression_level}", running=False)

    assert TarArchiveStrategy(compression_level=3)._build_archive_strategy() == Container(id="tar:3", running=False)
    (ex,) = lines(ds)
    assert ex["messages"][1]["content"] == "Return TarArchiveStrategy(compression_level=3)._build_archive_strategy()"


def test_stubs_of_a_selfless_method_import_and_a_dataclass_method_is_left_out(tmp_path: Path) -> None:
    """`stubs` took every method candidate for a model's: its module called `model_rebuild()` on a
    plain class (python-on-whales' `Image`), and failed to import. A dataclass's method is left
    out: its stub class, a plain subclass, would be written without the instance."""
    import os
    import subprocess
    import sys

    from distilgen import api

    files = {
        "pyproject.toml": "",
        "app/__init__.py": "",
        "app/m.py": (
            "from dataclasses import dataclass\n\nfrom pydantic import BaseModel\n\n\n"
            "class Item(BaseModel):\n    name: str\n\n\n"
            "class Reloadable:\n    pass\n\n\n"
            "class Image(Reloadable):\n"
            "    def _parse_json_object(self, json_object: dict[str, str]) -> Item:\n"
            "        return Item(name=json_object['Id'])\n\n\n"
            "@dataclass\nclass Strategy:\n    level: int\n\n"
            "    def build(self) -> Item:\n        return Item(name=str(self.level))\n"
        ),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    report = api.stubs([tmp_path], model="ft:m")
    assert report.functions == ("app.m:Image._parse_json_object",)
    reasons = {s.qualname: s.reason for s in report.skipped}
    assert "a method of a dataclass" in str(reasons["Strategy.build"])
    here = str(Path(api.__file__).resolve().parent.parent)
    run = subprocess.run([sys.executable, "-c", "import app.distil_stubs as s; print(len(s.instructions.functions))"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join([here, str(tmp_path)])})
    assert run.returncode == 0, run.stderr
