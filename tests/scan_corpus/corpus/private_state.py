"""Model methods and private state (wave 4: fastmcp's `ProxyResource.read` returned its cached
content, which the call `ProxyResource(uri=...).read()` does not carry: one call, two answers)."""

from typing import ClassVar

from pydantic import BaseModel, PrivateAttr

from corpus.models.core import Item
from corpus.models.stateful import Stateful


class Cached(BaseModel):
    uri: str
    _cache: str | None = PrivateAttr(default=None)
    _hits: int = 0
    LIMIT: ClassVar[int] = 3
    _shared: ClassVar[str] = "constant"

    def read(self, prefix: str) -> Item:
        """Reads private state: not distillable."""
        return Item(name=prefix + (self._cache or self.uri))

    def counted(self, n: int) -> Item:
        return Item(name=str(self._hits + n))

    def shared(self, n: int) -> Item:
        """A ClassVar is no instance state: distillable."""
        return Item(name=self._shared * n)

    def helped(self, n: int) -> Item:
        """A private method is code, not state: distillable."""
        return Item(name=self._helper(n))

    def _helper(self, n: int) -> str:
        return self.uri * n


class Derived(Cached):
    def inherited(self, n: int) -> Item:
        """Private state declared by a base class."""
        return Item(name=(self._cache or "") * n)


class FromOtherModule(Stateful):
    def reads_base_state(self, n: int) -> Item:
        """Private state declared by a base class in another module."""
        return Item(name=self._origin * n)
