"""Wave 6 (docling-core, pyiceberg, guardrails): five runtime defects a held-out test found.

A. Answers were dumped by field name while the tool schema (lock, dispatch) names fields by
   alias: `dataset validate --lock` refused the lines, and a model without `populate_by_name`
   could not validate an answer in the trained shape. Answers are keyed as the schema keys them.
B. `-> Base` returning a subclass (pyiceberg's IntegerType, a RootModel[str] subclass; guardrails'
   FailResult, with fields the schema lacks) wrote answers the tool schema does not describe:
   skipped and counted (`SubclassAnswer`), unless the subclass's answer is the same as a Base.
C. A model with its own `__init__` (pyiceberg's `Reference(name)`) was rendered as field keywords
   its `__init__` refuses: the call text did not evaluate back. Refused as unrenderable unless
   the `__init__` takes those keywords.
D. Rendering read `Field(deprecated=...)` fields with getattr: DeprecationWarnings in the user's
   program, and under `-W error` the call was lost.
E. pydantic's URL types (AnyUrl, HttpUrl, ...) made every call unrenderable.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any, Optional

import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import (AliasChoices, AnyUrl, BaseModel, ConfigDict, Field, HttpUrl, NameEmail, PostgresDsn, RootModel,
                      SerializerFunctionWrapHandler, field_serializer, model_serializer,
                      alias_generators)
from test_calls import Box, Color, Point, values
from test_interpreter import cli, write

from distilgen import Instructions, api
from distilgen.config import Config
from distilgen.runtime.calls import (EVAL_NAMESPACE, UnrenderableValue, constructors_for, read_call, render_call,
                                     render_value)
from distilgen.runtime.formats import answer_data, answer_json, answer_keys, own_serializer, tool_schema
from distilgen.testing import FakeOpenAI

REPO = Path(__file__).resolve().parent.parent
MODEL = "ft:gpt-4o-mini:org::abc"


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def answers(path: Path) -> list[str]:
    return [ex["messages"][2]["tool_calls"][0]["function"]["arguments"] for ex in lines(path)]


def skipped_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "distilgen" and "example not captured" in r.getMessage()]


def errors(path: Path) -> list[str]:
    (report,) = api.dataset_validate([path], min_examples=1)
    return [p.message for p in report.problems if p.severity == "error"]


def schema_keys(schema: dict[str, Any], answer: Any) -> None:
    """Every object in `answer` uses only keys its schema node declares (refs and anyOf followed)."""
    defs = schema.get("$defs", {})

    def walk(node: dict[str, Any], value: Any) -> None:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        for branch in node.get("anyOf", []):
            if branch.get("type") != "null" and value is not None:
                walk(branch, value)
        if isinstance(value, dict) and "properties" in node:
            assert set(value) <= set(node["properties"]), (sorted(value), sorted(node["properties"]))
            assert set(node.get("required", [])) <= set(value)
            for k, v in value.items():
                walk(node["properties"][k], v)
        if isinstance(value, list) and isinstance(node.get("items"), dict):
            for v in value:
                walk(node["items"], v)

    walk(schema, answer)


# --- A. answers keyed as the schema keys them --------------------------------------------------

class RefItem(BaseModel):
    """docling-core's RefItem: the field is `cref`, the schema (and JSON) says `$ref`."""
    model_config = ConfigDict(populate_by_name=True)
    cref: str = Field(alias="$ref")


class Strict(BaseModel):
    """The same without populate_by_name: only the alias validates."""
    cref: str = Field(alias="$ref")


class Doc(BaseModel):
    """Nested aliased models, in a list and an optional, beside a plain field."""
    name: str
    body: list[Strict]
    parent: Optional[RefItem] = None


class Camel(BaseModel):
    model_config = ConfigDict(alias_generator=alias_generators.to_camel, populate_by_name=True)
    first_name: str
    item_count: int = 0


class Mixed(BaseModel):
    """Aliases the serializer spells otherwise: the schema (validation mode) keys `vb`, `c1`, `e`."""
    b: int = Field(validation_alias="vb", serialization_alias="sb")
    c: int = Field(validation_alias=AliasChoices("c1", "c2"))
    e: int = Field(serialization_alias="se")
    inner: list[Strict] = []


@pytest.mark.parametrize("fmt", ["tools", "messages"])
def test_an_aliased_answer_is_keyed_as_the_schema_keys_it_and_validates(tmp_path: Path, fmt: str) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format=fmt, tool_schema="full")

    @inst.distil
    def strict_ref(i: int) -> Strict:
        return Strict(**{"$ref": f"#/body/{i}"})

    @inst.distil
    def doc(n: int) -> Doc:
        return Doc(name="d", body=[Strict(**{"$ref": f"#/{k}"}) for k in range(n)], parent=RefItem(cref="#/"))

    strict_ref(2)
    doc(2)
    assert inst.stats().captured == 2
    if fmt == "tools":
        got = answers(ds)
    else:
        got = [ex["messages"][2]["function_call"]["arguments"] for ex in lines(ds)]
    assert got[0] == '{"$ref":"#/body/2"}'
    assert got[1] == '{"name":"d","body":[{"$ref":"#/0"},{"$ref":"#/1"}],"parent":{"$ref":"#/"}}'
    assert Strict.model_validate_json(got[0]) == Strict(**{"$ref": "#/body/2"})  # no populate_by_name
    assert errors(ds) == []  # the lines' own full schema: the answers fit it


def test_raw_lines_record_the_output_as_the_schema_keys_it(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format="raw")

    @inst.distil
    def strict_ref(i: int) -> Strict:
        return Strict(**{"$ref": f"#/{i}"})

    strict_ref(1)
    (ex,) = lines(ds)
    assert ex["output"] == {"$ref": "#/1"} and list(ex["schema"]["properties"]) == ["$ref"]


def test_dispatch_of_a_model_without_populate_by_name_reads_the_trained_answer_back(tmp_path: Path) -> None:
    """The whole loop: the captured answer, sent back by a model over HTTP, validates."""
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def strict_ref(i: int) -> Strict:
        return Strict(**{"$ref": f"#/body/{i}"})

    strict_ref(7)
    (answer,) = answers(ds)
    with FakeOpenAI() as srv:
        srv.chat.respond(lambda req: json.loads(answer))
        dispatched = Instructions(openai_client=openai.OpenAI(base_url=srv.base_url, api_key="x", max_retries=0),
                                  config=Config(root=tmp_path), max_retries=0)

        @dispatched.distil(mode="dispatch", model=MODEL)
        def strict_ref(i: int) -> Strict:  # noqa: F811 - the same function, now dispatched
            return Strict(**{"$ref": f"#/body/{i}"})

        assert strict_ref(7) == Strict(**{"$ref": "#/body/7"})
        (req,) = [json.loads(r.body) for r in srv.requests_to("/v1/chat/completions")]
    # the schema dispatch holds (validation, decoding) names the field as the answer does
    assert list(strict_ref.__distil__.spec.schema["properties"]) == ["$ref"]
    assert req["tools"][0]["function"]["name"] == "Strict"


def test_dataset_validate_with_the_lock_accepts_aliased_answers(tmp_path: Path) -> None:
    """The repro's check: `prompts` records the schema in the lock; the captured lines fit it."""
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "refs"\n',
        "refs/__init__.py": "",
        "refs/distil.py": "from distilgen import Instructions\n\ninstructions = Instructions(name='refs', dataset='d.jsonl')\n",
        "refs/reference.py": """\
            from pydantic import BaseModel, Field

            from refs.distil import instructions


            class Strict(BaseModel):
                cref: str = Field(alias="$ref")


            @instructions.distil
            def strict_ref(index: int) -> Strict:
                return Strict(**{"$ref": f"#/body/{index}"})
            """,
    })
    done = cli(root, "prompts")
    lock = root / "distilgen.lock"
    assert done.returncode == 0 and lock.is_file(), done.stdout + done.stderr
    subprocess.run([sys.executable, "-c", "from refs.reference import strict_ref; strict_ref(1)"], check=True,
                   cwd=root, timeout=120)
    ds = root / "d.jsonl"
    assert answers(ds) == ['{"$ref":"#/body/1"}']
    (report,) = api.dataset_validate([ds], lock=lock, min_examples=1)
    assert [p.message for p in report.problems if p.severity == "error"] == []


@pytest.mark.parametrize("value", [
    Camel(first_name="Ada", item_count=3),
    Mixed(vb=1, c2=2, e=3, inner=[Strict(**{"$ref": "#/x"})]),
    Doc(name="n", body=[], parent=None),
])
def test_every_answer_fits_its_schema_and_validates_back(value: BaseModel) -> None:
    cls = type(value)
    answer = answer_json(value)
    schema_keys(tool_schema(cls), json.loads(answer))
    assert cls.model_validate_json(answer) == value
    assert answer_data(value) == json.loads(answer)


def test_mixed_aliases_are_renamed_field_by_field() -> None:
    assert answer_keys(Mixed) == "mixed" and answer_keys(Camel) == "alias" and answer_keys(Point) == "name"
    assert answer_json(Mixed(vb=1, c1=2, e=3)) == '{"vb":1,"c1":2,"e":3,"inner":[]}'


class Plain(BaseModel):
    a: int
    f: float
    tags: list[str] = []
    box: Optional[Box] = None
    color: Color = Color.red


class Loose(BaseModel):
    model_config = ConfigDict(extra="allow")
    value: int


@settings(max_examples=100, deadline=None)
@given(st.builds(Plain, a=st.integers(), f=st.floats(allow_nan=False, allow_infinity=False),
                 tags=st.lists(st.text(max_size=4), max_size=3),
                 box=st.none() | st.builds(Box, corner=st.builds(Point, x=st.integers(), y=st.floats(allow_nan=False)))))
def test_a_model_without_aliases_answers_exactly_as_before(value: Plain) -> None:
    """Existing datasets do not change: byte for byte the old `model_dump_json()`."""
    assert answer_keys(Plain) == "name"
    assert answer_json(value) == value.model_dump_json()
    assert answer_data(value) == value.model_dump(mode="json")


def test_a_model_with_extras_answers_exactly_as_before() -> None:
    v = Loose(value=1, note="x", **{"a-b": 2})
    assert answer_json(v) == v.model_dump_json()


# --- B. a subclass returned for the declared class --------------------------------------------

class IcebergType(BaseModel):
    """pyiceberg's base of all types: no fields."""


class PrimitiveType(RootModel[str], IcebergType):
    root: str


class StructType(IcebergType):
    fields: list[str] = []


class ValidationResult(BaseModel):
    outcome: str


class FailResult(ValidationResult):
    """guardrails: fields the declared schema does not have."""
    error_message: str


class PassResult(ValidationResult):
    """Adds behaviour only: its answer is a ValidationResult's."""

    def ok(self) -> bool:
        return True


def test_a_subclass_answer_outside_the_schema_is_skipped_naming_both_classes(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def find_type(name: str) -> IcebergType:
        return StructType(fields=["a"]) if name == "s" else PrimitiveType(name)

    @inst.distil
    def check(text: str) -> ValidationResult:
        return FailResult(outcome="fail", error_message=text) if text else ValidationResult(outcome="pass")

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert find_type("int") == PrimitiveType("int")  # the caller's result, untouched
        assert find_type("s") == StructType(fields=["a"])
        assert check("bad") == FailResult(outcome="fail", error_message="bad")
        assert check("") == ValidationResult(outcome="pass")
    assert answers(ds) == ['{"outcome":"pass"}']
    stats = inst.stats()
    assert stats.captured == 1 and stats.skipped == 3
    # pyiceberg's IcebergType declares no fields: refused before any subclass is looked at (wave 7's
    # rule: every answer of the declared class would be `{}`); guardrails' base has fields
    assert stats.causes == {f"{find_type.__distil__.function_id}: DecorationError": 2,
                            f"{check.__distil__.function_id}: SubclassAnswer": 1}
    msgs = skipped_logs(caplog)
    assert any("returns IcebergType, a model without fields" in m for m in msgs)
    assert any("returned a FailResult, a subclass of the declared ValidationResult" in m for m in msgs)
    assert errors(ds) == []


def test_a_subclass_whose_answer_is_the_declared_class_s_is_kept(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def check(text: str) -> ValidationResult:
        return PassResult(outcome=text)

    result = check("pass")
    assert type(result) is PassResult  # the caller still gets its own object
    assert answers(ds) == ['{"outcome":"pass"}'] and inst.stats().skipped == 0


# --- B'. models with their own serializer (wave 7) ---------------------------------------------

class Money(BaseModel):
    """Serialized as a bare string: not the object the schema (its fields) describes."""
    cents: int

    @model_serializer
    def _text(self) -> str:
        return f"{self.cents / 100:.2f}"


class Dataset(BaseModel):
    """pydantic-evals' `Dataset`: a wrap serializer that adds a key the schema lacks."""
    name: str

    @model_serializer(mode="wrap")
    def _add_schema(self, nxt: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {"$schema": "cases.json"} | nxt(self)


class Universal(BaseModel):
    """Fern's `UniversalBaseModel` (cohere, opik, langfuse): a wrap serializer that keeps the
    fields' shape, so its answers read back as themselves and are kept."""
    name: str
    when: datetime.date

    @model_serializer(mode="wrap", when_used="json")
    def _serialize(self, handler: SerializerFunctionWrapHandler) -> Any:
        return handler(self)


class Rounded(BaseModel):
    """A field serializer that rounds: the answer `1.23` reads back as itself (a fixed point)."""
    price: float

    @field_serializer("price")
    def _round(self, v: float) -> float:
        return round(v, 2)


class Cart(BaseModel):
    """Only a nested model has its own serializer: still checked."""
    total: Money


class Drift(BaseModel):
    """A serializer whose answer reads back as another value (a unit converted one way only)."""
    grams: int

    @field_serializer("grams")
    def _kilos(self, v: int) -> int:
        return v // 1000


def test_an_answer_its_own_serializer_reshapes_is_skipped_naming_it(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def price(cents: int) -> Money:
        return Money(cents=cents)

    @inst.distil
    def load(name: str) -> Dataset:
        return Dataset(name=name)

    @inst.distil
    def cart(cents: int) -> Cart:
        return Cart(total=Money(cents=cents))

    @inst.distil
    def weigh(grams: int) -> Drift:
        return Drift(grams=grams)

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        assert price(150) == Money(cents=150)  # the caller's result, untouched
        assert load("qa") == Dataset(name="qa")
        assert cart(5) == Cart(total=Money(cents=5))
        assert weigh(2500) == Drift(grams=2500)
    assert not ds.exists() or ds.read_text() == ""
    stats = inst.stats()
    assert stats.captured == 0 and stats.skipped == 4
    assert set(stats.causes.values()) == {1} and all(k.endswith(": SerializedAnswer") for k in stats.causes)
    msgs = skipped_logs(caplog)
    assert any('returned a Money whose answer (its own serializer\'s) "1.50" is not a valid Money' in m for m in msgs)
    assert any('returned a Drift whose answer (its own serializer\'s) {"grams":2} reads back as the Drift {"grams":0}'
               in m for m in msgs)
    # the added key reads back the same at every dump: the key check says what the schema lacks
    assert any('returned a Dataset whose answer (its own serializer\'s) {"$schema":"cases.json","name":"qa"} has the '
               "key '$schema', which the tool schema does not declare" in m for m in msgs)


@pytest.mark.parametrize("fmt", ["tools", "messages", "raw"])
def test_an_answer_that_reads_back_as_itself_is_kept_in_every_format(tmp_path: Path, fmt: str) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds, finetune_format=fmt)

    @inst.distil
    def person(name: str) -> Universal:
        return Universal(name=name, when=datetime.date(2026, 12, 1))

    @inst.distil
    def priced(p: float) -> Rounded:
        return Rounded(price=p)

    person("ada")
    priced(1.2345)
    assert inst.stats().captured == 2 and inst.stats().skipped == 0
    rows = lines(ds)
    got = ([json.loads(r["messages"][2]["tool_calls"][0]["function"]["arguments"]) for r in rows] if fmt == "tools"
           else [json.loads(r["messages"][2]["function_call"]["arguments"]) for r in rows] if fmt == "messages"
           else [r["output"] for r in rows])
    assert got == [{"name": "ada", "when": "2026-12-01"}, {"price": 1.23}]
    assert errors(ds) == []


def test_only_models_with_a_function_serializer_pay_the_check() -> None:
    assert own_serializer(Money) and own_serializer(Dataset) and own_serializer(Universal)
    assert own_serializer(Rounded) and own_serializer(Cart)
    assert not own_serializer(ValidationResult) and not own_serializer(StructType)


# --- C. models with their own __init__ --------------------------------------------------------

class Reference(RootModel[str]):
    """pyiceberg's Reference: takes `name`, not the field `root`."""
    root: str

    def __init__(self, name: str) -> None:
        super().__init__(name)


class EqualTo(BaseModel):
    term: Reference
    value: int

    def __init__(self, term: str | Reference, literal: int) -> None:
        super().__init__(term=term if isinstance(term, Reference) else Reference(term), value=literal)


class Not(BaseModel):
    child: EqualTo


class Loud(BaseModel):
    """Its own __init__ takes **data: pydantic's keywords still work."""
    level: int

    def __init__(self, **data: Any) -> None:
        super().__init__(**data)


class Named(BaseModel):
    """Its own __init__ names the fields."""
    name: str
    size: int = 0

    def __init__(self, name: str, size: int = 0) -> None:
        super().__init__(name=name, size=size)


class NeedsMore(BaseModel):
    name: str

    def __init__(self, name: str, registry: object) -> None:
        super().__init__(name=name)


@dataclasses.dataclass
class Span:
    start: int
    end: int


@dataclasses.dataclass(init=False)
class Window:
    start: int

    def __init__(self, width: int) -> None:
        self.start = width


def test_a_model_whose_own_init_refuses_the_field_keywords_is_unrenderable() -> None:
    with pytest.raises(UnrenderableValue, match=r"cannot render a Reference: its own __init__\(name\) "
                                                r"does not take the field keyword\(s\) 'root'"):
        render_value(Reference("a"))
    with pytest.raises(UnrenderableValue, match="Reference"):
        render_value(Not(child=EqualTo("a", 3)))
    with pytest.raises(UnrenderableValue, match=r"NeedsMore: its own __init__.* requires 'registry'"):
        render_value(NeedsMore(name="a", registry=None))
    with pytest.raises(UnrenderableValue, match=r"Window: its own __init__\(width\)"):
        render_value(Window(3))


@pytest.mark.parametrize("value", [Loud(level=2), Named(name="a", size=3), Named(name="b"), Span(1, 2)])
def test_a_class_whose_init_takes_the_field_keywords_round_trips(value: Any) -> None:
    text = render_call("f", (value,), {})
    ns = {**EVAL_NAMESPACE, "f": lambda *a, **k: (a, k), type(value).__name__: type(value)}
    assert eval(text, ns) == ((value,), {})
    assert read_call(text, "f", constructors_for([type(value)])) == ((value,), {})


def test_capture_skips_and_counts_a_call_whose_argument_has_a_refusing_init(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def rewrite_not(expr: Not) -> Not:
        return expr

    with caplog.at_level(logging.WARNING, logger="distilgen"):
        expr = Not(child=EqualTo("a", 3))
        assert rewrite_not(expr) is expr
    assert not ds.exists()
    assert list(inst.stats().causes.values()) == [1] and "UnrenderableValue" in next(iter(inst.stats().causes))
    (msg,) = skipped_logs(caplog)
    assert "Reference: its own __init__" in msg


# --- D. deprecated fields ---------------------------------------------------------------------

class Item(BaseModel):
    """docling-core's PictureItem: `annotations` is deprecated (use `meta`)."""
    text: str
    annotations: list[str] = Field(default_factory=list, deprecated="use `meta` instead")


class Summary(BaseModel):
    chars: int


def test_rendering_a_deprecated_field_warns_nothing_and_renders_it() -> None:
    item = Item(text="hello", annotations=["a"])
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        text = render_value(item)
    assert [str(w.message) for w in seen] == []
    assert text == "Item(text='hello', annotations=['a'])"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # constructing it by keyword is the user's own choice
        assert eval(text, {"Item": Item}) == item


def test_a_call_with_a_deprecated_field_is_captured_under_warnings_as_errors(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def summarize(item: Item) -> Summary:
        return Summary(chars=len(item.text))

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pytest's filterwarnings = error
        assert summarize(Item(text="hello")) == Summary(chars=5)
    assert inst.stats().captured == 1 and inst.stats().skipped == 0
    assert lines(ds)[0]["messages"][1]["content"] == "Return summarize(Item(text='hello'))"  # default left out (wave 10)


# --- E. pydantic's network types ---------------------------------------------------------------

class ImageRef(BaseModel):
    mimetype: str
    uri: AnyUrl


class Site(BaseModel):
    home: HttpUrl
    db: Optional[PostgresDsn] = None


_HOSTS = st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z]{2,4}){1,2}", fullmatch=True)
_PATHS = st.lists(st.from_regex(r"[A-Za-z0-9_.~-]{1,6}", fullmatch=True), max_size=3).map(lambda p: "/".join(p))
_QUERIES = st.none() | st.from_regex(r"[a-z]{1,4}=[a-z0-9]{0,4}", fullmatch=True)


def _url(scheme: str, host: str, port: int | None, path: str, query: str | None) -> str:
    return f"{scheme}://{host}{'' if port is None else f':{port}'}/{path}{'' if query is None else '?' + query}"


URLS = st.builds(_url, st.sampled_from(["http", "https"]), _HOSTS, st.none() | st.integers(1, 65535), _PATHS, _QUERIES)
NETWORK = (URLS.map(AnyUrl) | URLS.map(HttpUrl)
           | st.builds(lambda h, db: PostgresDsn(f"postgres://u:p@{h}:5432/{db}"), _HOSTS, st.from_regex(r"[a-z]{1,5}", fullmatch=True))
           | st.builds(NameEmail, st.from_regex(r"[A-Z][a-z]{0,5}", fullmatch=True), _HOSTS.map(lambda h: f"me@{h}"))
           | st.ip_addresses().map(ipaddress.ip_address)
           | st.ip_addresses(v=4).map(lambda a: ipaddress.IPv4Network(f"{a}/32"))
           | st.builds(ImageRef, mimetype=st.just("image/png"), uri=URLS.map(AnyUrl)))
ALLOWED = constructors_for([Color, Point, Box, ImageRef, Site])
NS = {**EVAL_NAMESPACE, "Color": Color, "Point": Point, "Box": Box, "ImageRef": ImageRef, "Site": Site}


@settings(max_examples=300, deadline=None)
@given(st.lists(values | NETWORK, max_size=3), st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True),
                                                                values | NETWORK, max_size=3))
def test_rendering_with_network_values_round_trips(args: list[Any], kwargs: dict[str, Any]) -> None:
    """The renderer's promise (tests/test_calls.py's property), with pydantic's network types."""
    text = render_call("f", tuple(args), kwargs)
    got = eval(text, {**NS, **EVAL_NAMESPACE, "f": lambda *a, **k: (a, k)})
    assert got == (tuple(args), kwargs)
    assert read_call(text, "f", ALLOWED) == got


def test_url_arguments_are_captured_and_read_back(tmp_path: Path) -> None:
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)

    @inst.distil
    def describe(image: ImageRef) -> Summary:
        return Summary(chars=len(str(image.uri)))

    @inst.distil
    def describe_site(site: Site) -> Summary:
        return Summary(chars=len(str(site.home)))

    describe(ImageRef(mimetype="image/png", uri="https://example.com/a.png"))
    describe_site(Site(home="https://example.com", db="postgres://u:p@h1:5432,h2:5433/db"))
    assert inst.stats().captured == 2
    users = [ex["messages"][1]["content"] for ex in lines(ds)]
    assert users == ["Return describe(ImageRef(mimetype='image/png', uri=AnyUrl('https://example.com/a.png')))",
                     "Return describe_site(Site(home=HttpUrl('https://example.com/'), "
                     "db=PostgresDsn('postgres://u:p@h1:5432,h2:5433/db')))"]
    site = read_call(users[1], "describe_site", constructors_for([Site]))
    assert site == ((Site(home="https://example.com/", db="postgres://u:p@h1:5432,h2:5433/db"),), {})


def test_read_call_knows_the_url_types_in_a_fresh_process() -> None:
    """`eval --dataset` reads lines in a process that may never have imported pydantic.networks."""
    code = ("import sys; from distilgen.runtime.calls import read_call\n"
            "assert 'pydantic.networks' not in sys.modules\n"
            "print(read_call(\"Return f(AnyUrl('https://example.com/a'), ip=IPv4Address('10.0.0.1'))\", 'f', {}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "((AnyUrl('https://example.com/a'),), {'ip': IPv4Address('10.0.0.1')})"


def test_a_url_subclass_of_the_user_s_own_stays_unrenderable() -> None:
    class MyUrl(AnyUrl):
        pass

    with pytest.raises(UnrenderableValue, match="MyUrl"):
        render_value(MyUrl("https://example.com/"))


# --- wave 7: return models whose answers say nothing, or another shape than their fields --------


class Signal(BaseModel):
    """beeai's AbortSignal: no fields, all its state private."""

    _aborted: bool = False


class Opened(BaseModel):
    model_config = ConfigDict(extra="allow")  # its answers are its extras: not refused


class Shaped(BaseModel):
    """pydantic-evals' Dataset: a wrap serializer writes another shape than the fields'."""

    name: str

    @model_serializer(mode="wrap")
    def _ser(self, handler: Any) -> dict[str, Any]:
        return {"title": handler(self)["name"]}


def test_return_models_without_fields_are_refused(tmp_path: Path) -> None:
    from distilgen import DecorationError
    from distilgen.prompts._schema_worker import object_schema_problem
    from distilgen.runtime.formats import tool_schema

    assert object_schema_problem(Signal, tool_schema(Signal)) == (
        "returns Signal, a model without fields: every answer would be {} (what it holds, if anything, is private)")
    # a model serializer is not refused: Fern's SDK base models (cohere, langfuse, opik) all have one
    assert object_schema_problem(Shaped, tool_schema(Shaped)) is None
    assert object_schema_problem(Opened, tool_schema(Opened)) is None
    ds = tmp_path / "d.jsonl"
    inst = Instructions(dataset=ds)
    def fn(a: int) -> Signal:
        return value
    value = Signal()
    assert inst.distil(fn)(1) is value  # the body still answers; capture counts the refusal
    assert not ds.exists()
    assert sum(n for k, n in inst.stats().causes.items() if k.endswith(": DecorationError")) == 1
    from distilgen.runtime.spec import build_spec  # what dispatch builds before any request: the same refusal

    def timeout(seconds: float) -> Signal:
        return Signal()
    with pytest.raises(DecorationError, match="returns Signal, a model without fields"):
        build_spec(timeout, kind="function", return_model=Signal, src_text=None, include_body=False)


def test_apply_leaves_them_alone_saying_why(tmp_path: Path) -> None:
    root = write(tmp_path / "proj", {
        "pyproject.toml": '[project]\nname = "shop"\n',
        "shop/__init__.py": "",
        "shop/logic.py": """\
            from typing import Any

            from pydantic import BaseModel, model_serializer


            class Signal(BaseModel):
                _aborted: bool = False


            class Good(BaseModel):
                total: int


            def timeout(seconds: float) -> Signal:
                return Signal()


            def total(a: int, b: int) -> Good:
                return Good(total=a + b)
            """,
    })
    report = api.apply([root])
    decorated = {r.qualname for r in api.scan([root], use_cache=False).by_status("decorated")}
    assert decorated == {"total"}
    line = next(n for n in report.notes if ": timeout: " in n)
    assert "a model without fields: every answer would be {}" in line, line
