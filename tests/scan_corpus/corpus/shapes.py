"""Functions that are found but are not plain distillable candidates."""

from typing import AsyncIterator, Dict, Iterator, List, Optional, Sequence, Union

from corpus.models.core import Item, Tagged


def optional(x: str) -> Optional[Item]:
    return None


def pipe_none(x: str) -> Item | None:
    return None


def union_none(x: str) -> Union[Item, None]:
    return None


def a_list(x: str) -> list[Item]:
    return []


def a_typing_list(x: str) -> List[Item]:
    return []


def a_dict(x: str) -> Dict[str, Item]:
    return {}


def a_union(x: str) -> Union[Item, Tagged]:
    return Item(name=x)


def a_pipe_union(x: str) -> Item | Tagged:
    return Item(name=x)


def a_sequence(x: str) -> Sequence[Item]:
    return []


def a_tuple(x: str) -> tuple[Item, int]:
    return Item(name=x), 1


def a_generator(n: int) -> Iterator[Item]:
    for i in range(n):
        yield Item(name=str(i))


def generator_annotated_model(n: int) -> Item:  # type: ignore[misc]
    yield Item(name=str(n))


async def async_gen(n: int) -> AsyncIterator[Item]:
    yield Item(name=str(n))


def only_varargs(*args: str, **kwargs: str) -> Item:
    return Item(name="".join(args))


def not_a_model_union(x: str) -> Union[int, str]:
    return x
