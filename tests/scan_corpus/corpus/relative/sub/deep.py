from ... import models
from ...models.chain_b import Mid
from . import SubTagged


def two_up(x: str) -> Mid:
    return Mid()


def package_attr(x: str) -> models.Item:
    return models.Item(name=x)


def sibling_init(x: str) -> SubTagged:
    return SubTagged(tag=x)
