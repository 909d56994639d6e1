import functools

from corpus.models.core import Item, Tagged


class Service:
    prefix = ""

    def instance(self, x: str) -> Item:
        return Item(name=self.prefix + x)  # reads its instance's state, which no call carries

    @staticmethod
    def static(x: str) -> Item:
        return Item(name=x)

    @classmethod
    def klass(cls, x: str) -> Item:
        return Item(name=x)

    @property
    def prop(self) -> Item:
        return Item(name="p")

    @functools.cached_property
    def cached(self) -> Item:
        return Item(name="c")

    async def async_method(self, x: str) -> Item:
        return Item(name=x)

    class Nested:
        @staticmethod
        def deep(x: str) -> Tagged:
            return Tagged(tag=x)


class Renamer(Item):
    def renamed(self, suffix: str) -> Item:
        """A method of a model: the model is in the call, so it is distillable."""
        return Item(name=self.name + suffix)

    def varargs(self, *parts: str) -> Item:
        return Item(name="".join(parts))


async def top_async(x: str) -> Tagged:
    return Tagged(tag=x)
