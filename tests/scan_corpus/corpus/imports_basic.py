import corpus.models.core as core
import corpus.models.core
from corpus import Item as ReExported
from corpus.models import Leaf
from corpus.models.core import Item
from corpus.models.core import Item as It

from .models import core as c2


def plain(x: int) -> Item:
    return Item(name=str(x))


def aliased(x: int) -> It:
    return It(name=str(x))


def module_alias(x: int) -> core.Item:
    return core.Item(name=str(x))


def full_dotted(x: int) -> corpus.models.core.Item:
    return Item(name=str(x))


def relative_module(x: int) -> c2.Tagged:
    return c2.Tagged(tag=str(x))


def via_package_reexport(x: int) -> ReExported:
    return ReExported(name=str(x))


def chain_through_star(x: int) -> Leaf:
    return Leaf()


def not_a_model(x: int) -> core.NotAModel:
    return core.NotAModel()


def returns_int(x: int) -> int:
    return x
