from corpus.models.core import Item
from pydantic import BaseModel


def outer(x: str):
    class Local(BaseModel):
        v: str

    def inner(y: str) -> Item:
        return Item(name=y)

    def inner_local(y: str) -> Local:
        return Local(v=y)

    class Helper:
        @staticmethod
        def make(y: str) -> Item:
            return Item(name=y)

    return inner, inner_local, Helper


KEEP = outer("x")  # keeps the nested functions alive for the ground truth to find
