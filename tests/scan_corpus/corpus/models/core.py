from typing import Generic, TypeVar

import pydantic as pd
from pydantic import BaseModel as BM
from pydantic import RootModel

T = TypeVar("T")

__all__ = ["Item", "Tagged", "Tags", "Page", "Outer", "NotAModel", "T"]


class Item(BM):
    name: str


class Tagged(pd.BaseModel):
    tag: str


class Tags(RootModel[list[str]]):
    pass


class Page(BM, Generic[T]):
    items: list[T]


class Outer:
    class Inner(BM):
        x: int

    class Plain:
        pass


class NotAModel:
    pass
