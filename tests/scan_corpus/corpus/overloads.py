from typing import Union, overload

from corpus.models.core import Item, Tagged


@overload
def same(x: int) -> Item: ...
@overload
def same(x: str) -> Item: ...
def same(x):  # noqa: E302
    return Item(name=str(x))


@overload
def different(x: int) -> Item: ...
@overload
def different(x: str) -> Tagged: ...
def different(x):  # noqa: E302
    return Item(name=str(x))


@overload
def annotated_impl(x: int) -> Item: ...
@overload
def annotated_impl(x: str) -> Item: ...
def annotated_impl(x: Union[int, str]) -> Item:  # noqa: E302
    return Item(name=str(x))
