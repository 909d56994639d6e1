import datetime as dt
from typing import Optional

from pydantic import Field

from .base import InboxModel


class OrderMention(InboxModel):
    order_id: Optional[str] = Field(None, description="Order number like A-12345, upper case")
    date: Optional[dt.date] = None


class ProductSummary(InboxModel):
    sku: str
    headline: str
    in_stock: bool


class ProductRecord(InboxModel):
    sku: str
    name: str
    price_cents: int = Field(ge=0)
    stock: int = Field(ge=0)

    def summary(self) -> "ProductSummary":
        """One line for the agent's sidebar."""
        price = f"{self.price_cents // 100}.{self.price_cents % 100:02d}"
        state = "in stock" if self.stock > 0 else "sold out"
        return ProductSummary(sku=self.sku, headline=f"{self.name} - ${price}, {state}", in_stock=self.stock > 0)
