from typing import Annotated, Optional, TypeAlias

from corpus.models.core import Item, Outer, Page, T, Tags
from pydantic import Field, RootModel

ItemAlias = Item
ItemAlias2: TypeAlias = Item
ChainedAlias = ItemAlias
MaybeItem = Optional[Item]
ItemPage = Page[Item]


def annotated(x: str) -> Annotated[Item, Field(description="an item")]:
    return Item(name=x)


def annotated_optional(x: str) -> Optional[Annotated[Item, "meta"]]:
    return None


def alias(x: str) -> ItemAlias:
    return Item(name=x)


def alias_typealias(x: str) -> ItemAlias2:
    return Item(name=x)


def alias_chain(x: str) -> ChainedAlias:
    return Item(name=x)


def alias_to_optional(x: str) -> MaybeItem:
    return None


def root_model(x: str) -> Tags:
    return Tags([x])


def root_model_direct(x: int) -> RootModel[int]:
    return RootModel[int](x)


def generic_page(x: str) -> Page[Item]:
    return Page[Item](items=[Item(name=x)])


def generic_alias(x: str) -> ItemPage:
    return ItemPage(items=[])


def nested_class(x: int) -> Outer.Inner:
    return Outer.Inner(x=x)


def nested_plain(x: int) -> Outer.Plain:
    return Outer.Plain()


def generic_typevar(x: T) -> Page[T]:
    return Page[T](items=[x])
