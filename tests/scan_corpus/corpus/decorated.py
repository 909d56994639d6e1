import corpus.distil as d
from corpus.distil import instructions
from corpus.distil import instructions as inst2
from corpus.models.core import Item
from distilgen import Instructions

local = Instructions(name="local")


class Fake:
    def distil(self, fn=None, **kw):
        return fn if fn is not None else (lambda f: f)


fake = Fake()


@instructions.distil
def bare(x: str) -> Item:
    return Item(name=x)


@instructions.distil(mode="dispatch", model="ft:gpt-4o-mini:acme::abc")
def dispatched(x: str) -> Item:
    return Item(name=x)


@inst2.distil(mode="shadow", model="ft:shadow")
def aliased_instance(x: str) -> Item:
    return Item(name=x)


@d.instructions.distil()
def module_attr(x: str) -> Item:
    return Item(name=x)


@local.distil
def local_instance(x: str) -> Item:
    return Item(name=x)


@fake.distil
def fake_decorator(x: str) -> Item:
    return Item(name=x)


class Tools:
    @staticmethod
    @instructions.distil
    def static_decorated(x: str) -> Item:
        return Item(name=x)
