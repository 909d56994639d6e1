"""Scan accuracy corpus: tricky ways to return a pydantic model. Re-exports below are followed."""

from .models.core import Item as Item
from .models.core import Tagged

__all__ = ["Item", "Tagged"]
