"""Parameters a call text can or cannot carry (wave 5: arize-phoenix's endpoints took a starlette
`Request`, its helpers SQLAlchemy sessions and rows: every call of the decorated function was
skipped). Writable: literals, containers, models, dataclasses, enums, dates, Decimal, UUID, paths."""

import dataclasses
import datetime
import decimal
import enum
import logging
import pathlib
import uuid
from typing import Any, Callable, Optional, Protocol, TypeVar, Union

from corpus.models.core import Item

T = TypeVar("T")
Rewrite = Callable[[Item], Item]


class Database:
    """A live resource: no literal writes one."""

    def name_of(self, key: int) -> str:
        return str(key)


class Session(Database):
    pass


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Named(str):
    pass


class Refused(Exception):
    pass


class Reader(Protocol):
    def read(self) -> str: ...


def live(db: Database, key: int) -> Item:
    return Item(name=db.name_of(key))


def live_subclass(session: Session) -> Item:
    return Item(name=session.name_of(1))


def live_optional(db: Optional[Database], key: int) -> Item:
    return Item(name=str(key))


def live_in_a_list(dbs: list[Database]) -> Item:
    return Item(name=str(len(dbs)))


def either(value: Union[str, Database]) -> Item:
    """One member can be written: calls with a str are captured."""
    return Item(name=str(value))


def callback_alias(item: Item, rewrite: Rewrite) -> Item:
    return rewrite(item)


def a_class(kind: type[Item], name: str) -> Item:
    return kind(name=name)


def an_exception(error: Refused) -> Item:
    return Item(name=str(error))


def a_logger(log: logging.Logger, name: str) -> Item:
    return Item(name=name)


def writable(color: Color, point: Point, when: datetime.date, amount: decimal.Decimal, key: uuid.UUID,
             where: pathlib.Path, tag: Named, rows: dict[str, list[int]], anything: Any) -> Item:
    return Item(name=f"{color}{point}{when}{amount}{key}{where}{tag}{rows}{anything}")


def generic(value: T, reader: Reader) -> Item:
    """A TypeVar, a Protocol: not known, so not refused."""
    return Item(name=str(value))
