# Python 3.12 syntax: `type X = M` and PEP 695 brackets. Python 3.11 cannot import this file, so the
# ground truth only covers it on 3.12+; tests check it against hand-written expectations below 3.12.
from corpus.models.core import Item, Page

type ItemT = Item
type Maybe = Item | None


def via_type_statement(x: str) -> ItemT:
    return Item(name=x)


def via_type_optional(x: str) -> Maybe:
    return None


def generic_function[T](x: T) -> Page[Item]:
    return Page[Item](items=[])


class Box[T](Item):
    pass


def box(name: str) -> Box:
    return Box(name=name)
