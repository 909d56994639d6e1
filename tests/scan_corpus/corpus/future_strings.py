from __future__ import annotations

import corpus.models.core
from corpus.models.core import Item, Tagged


def future_plain(x: str) -> Item:
    return Item(name=x)


def quoted(x: str) -> "Tagged":
    return Tagged(tag=x)


def quoted_dotted(x: str) -> "corpus.models.core.Item":
    return Item(name=x)


def quoted_optional(x: str) -> "Item | None":
    return None


def forward(x: str) -> Later:
    return Later()


class Later(Item):
    name: str = "later"
