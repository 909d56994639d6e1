"""Importable at run time only (the scanner cannot locate it): declared in model-bases."""

from pydantic import BaseModel


class DeclaredBase(BaseModel):
    pass
