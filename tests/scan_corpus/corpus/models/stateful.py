from pydantic import BaseModel, PrivateAttr


class Stateful(BaseModel):
    """A base whose private state its subclasses' methods read (`corpus.private_state`)."""

    key: str = ""
    _origin: str = PrivateAttr(default="")
