"""Two teacher functions held out from the served decoder's guessing (`_llama_server._guess_tokens`).

The guesses around copied values (2026-11-30) were designed on the trace of one `shipment` call and
first measured on the six functions of local_teachers.py. These two were written after that, before
any measurement of the guesses on them, and are not changed afterwards: they say whether the
guessing carries to answers it was not looked at on (copied spans with digits and punctuation,
nullable fields, a computed number, an enum between copied values).

| key | kind |
| --- | --- |
| `address` | spans copied from a free-form address, a number, a nullable country |
| `invoice` | a vendor of several words, an id with a dash, an amount in cents (computed), an enum |
"""

from __future__ import annotations

import random
import re
from typing import Literal, Optional

from pydantic import BaseModel


class Address(BaseModel):
    street: str
    number: int
    postcode: str
    city: str
    country: Optional[str]


_LEAD_IN = re.compile(r"^(?:please send it to|ship to:|new address)\s*", re.I)
_ADDRESS = re.compile(r"^(?P<street>[A-Z][\w.' -]*?) (?P<number>\d+)[a-z]?, "
                      r"(?P<postcode>[A-Z0-9 -]{4,8}) (?P<city>[A-Z][\w-]*(?: [A-Z][\w-]*)?)(?:, (?P<country>[A-Z][A-Za-z]+))?")


def parse_address(text: str) -> Address:
    """Street, house number, postcode, city and (when given) country of a one-line address."""
    m = _ADDRESS.search(_LEAD_IN.sub("", text))
    if m is None:
        return Address(street="", number=0, postcode="", city="", country=None)
    return Address(street=m["street"], number=int(m["number"]), postcode=m["postcode"], city=m["city"],
                   country=m["country"])


_STREETS = ["Main Street", "Rue Victor Hugo", "Hauptstrasse", "Calle Mayor", "Via Roma", "Baker St.", "Kastanienallee",
            "Oak Avenue", "Queen's Road", "Nieuwe Gracht"]
_TOWNS = [("75011", "Paris", "France"), ("10115", "Berlin", "Germany"), ("28013", "Madrid", "Spain"),
          ("00184", "Rome", "Italy"), ("NW1 6XE", "London", "UK"), ("3511 LB", "Utrecht", "Netherlands"),
          ("8001", "Zurich", "Switzerland"), ("1010", "Wien", "Austria"), ("02-495", "Warsaw", "Poland"),
          ("4000", "Aarhus C", "Denmark")]


def gen_address(rng: random.Random) -> tuple[str]:
    street, (postcode, city, country) = rng.choice(_STREETS), rng.choice(_TOWNS)
    number = rng.randint(1, 240)
    line = f"{street} {number}{rng.choice(['', '', 'b'])}, {postcode} {city}" + (f", {country}" if rng.random() < 0.6 else "")
    return (rng.choice(["Please send it to {a}.", "Ship to: {a}", "New address {a} from Monday", "{a}"]).format(a=line),)


class Invoice(BaseModel):
    vendor: str
    invoice_no: str
    total_cents: int
    currency: Literal["EUR", "USD", "GBP"]
    paid: bool


_VENDORS = ["Acme GmbH", "Blue Harbor Supplies", "Nordwind AS", "Casa Verde SL", "Pixel & Co", "Orbit Labs",
            "Fjord Timber AB", "Sunrise Bakery"]
_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def read_invoice(line: str) -> Invoice:
    """Vendor (after "from", up to the colon), invoice number, total in cents, currency, paid or not."""
    vendor = re.search(r"from (.+?):", line)
    number = re.search(r"\b([A-Z]{2,4}-\d{3,6})\b", line)
    amount = re.search(r"(\d{1,3}(?:,\d{3})*(?:\.\d{2})?)", line.split(":", 1)[-1])
    currency = next((c for c, s in _SYMBOLS.items() if c in line or s in line), "EUR")
    cents = round(float(amount.group(1).replace(",", "")) * 100) if amount else 0
    return Invoice(vendor=vendor.group(1) if vendor else "", invoice_no=number.group(1) if number else "",
                   total_cents=cents, currency=currency,  # type: ignore[arg-type]
                   paid=bool(re.search(r"\bpaid\b", line)) and "unpaid" not in line)


def gen_invoice(rng: random.Random) -> tuple[str]:
    vendor, currency = rng.choice(_VENDORS), rng.choice(list(_SYMBOLS))
    number = f"{rng.choice(['INV', 'RE', 'FAC', 'BILL'])}-{rng.randint(100, 99999)}"
    whole = rng.choice([rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 25000)])
    amount = f"{whole:,}" + (f".{rng.randint(0, 99):02d}" if rng.random() < 0.7 else "")
    money = rng.choice([f"{amount} {currency}", f"{_SYMBOLS[currency]}{amount}"])
    state = rng.choice(["paid", "unpaid", "due in 30 days", "paid in full"])
    return (rng.choice(["Invoice {n} from {v}: {m}, {s}", "{n} from {v}: total {m} ({s})"]).format(
        n=number, v=vendor, m=money, s=state),)


TEACHERS = {
    "address": (parse_address, gen_address),
    "invoice": (read_invoice, gen_invoice),
}
