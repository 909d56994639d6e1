"""Pull structured facts out of free text."""

from __future__ import annotations

import datetime
import re
from typing import Optional

import inbox.models as m

_ORDER = re.compile(r"\b([a-z])-?(\d{5})\b", re.IGNORECASE)
_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def extract_order(text: str) -> m.OrderMention:
    """Find the order number (like A-12345) and the ISO date a customer mentions."""
    order = _ORDER.search(text)
    date = _DATE.search(text)
    parsed = None
    if date:
        try:
            parsed = datetime.date(int(date[1]), int(date[2]), int(date[3]))
        except ValueError:
            parsed = None
    return m.OrderMention(order_id=f"{order[1].upper()}-{order[2]}" if order else None, date=parsed)


async def extract_order_async(text: str) -> m.OrderMention:
    """The same extraction for the async web handler."""
    return extract_order(text)


def maybe_order(text: str) -> Optional[m.OrderMention]:
    """Wrapped return type: found and labelled, not distilled."""
    found = extract_order(text)
    return found if found.order_id else None


def all_orders(*texts: str) -> list[m.OrderMention]:
    return [extract_order(t) for t in texts]
