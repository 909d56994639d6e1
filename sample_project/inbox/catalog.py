"""Product look-ups for the agent sidebar."""

from inbox.models import ProductRecord, ProductSummary


class Catalog:
    def __init__(self, records: list[ProductRecord]) -> None:
        self._by_sku = {r.sku: r for r in records}

    def lookup(self, sku: str) -> ProductSummary:
        """An instance method of a plain class: its state is not in the call, so not distillable."""
        return self._by_sku[sku].summary()

    @staticmethod
    def summarise(name: str, price_cents: int, stock: int) -> ProductSummary:
        """Summarise a product from its raw fields."""
        return ProductRecord(sku=name.upper()[:8], name=name, price_cents=price_cents, stock=stock).summary()
