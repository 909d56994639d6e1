"""Teacher functions the local recipe was never tuned on (issue 14, item 5).

Written before any tuning of the training defaults and not changed afterwards: six deterministic
functions of different kinds, each with a seeded input generator. benchmarks/local_distill.py
distils them; their figures say whether the recipe transfers.

| key | kind |
| --- | --- |
| `size` | thresholds on lengths and counts |
| `queue` | keyword precedence (first rule that matches wins) |
| `contact` | extraction that copies a span of the input |
| `quantity` | unit and number normalisation |
| `date` | date parsing from several spellings |
| `shipment` | a nested model answer |
"""

from __future__ import annotations

import random
import re
from typing import Literal, Optional

from pydantic import BaseModel

# -- thresholds on lengths and counts -----------------------------------------------------------------


class Size(BaseModel):
    band: Literal["short", "medium", "long"]
    shouting: bool


def size_message(text: str) -> Size:
    """Band a message by its word count and flag shouting (two or more exclamation marks)."""
    words = len(text.split())
    if words < 8:
        band = "short"
    elif words <= 20:
        band = "medium"
    else:
        band = "long"
    return Size(band=band, shouting=text.count("!") >= 2)


_FILLER = ["the", "order", "arrived", "today", "and", "it", "looks", "fine", "but", "one", "part", "is", "missing",
           "please", "send", "a", "new", "box", "soon", "thanks", "again", "for", "help", "with", "this", "my", "old",
           "account", "still", "works", "well", "so", "far"]


def gen_size(rng: random.Random) -> tuple[str]:
    n = rng.choice([rng.randint(2, 7), rng.randint(8, 20), rng.randint(21, 32), rng.choice([7, 8, 20, 21])])
    words = [rng.choice(_FILLER) for _ in range(n)]
    words[0] = words[0].capitalize()
    text = " ".join(words)
    return (text + rng.choice([".", "!", "!!", "!!!", "?", ". Now!", "! Really!"]),)


# -- keyword precedence -----------------------------------------------------------------------------


class Queue(BaseModel):
    queue: Literal["legal", "security", "billing", "sales", "other"]
    keyword: str


_QUEUE_RULES = [
    ("legal", ("lawyer", "lawsuit", "gdpr", "court")),
    ("security", ("hacked", "phishing", "breach", "stolen")),
    ("billing", ("invoice", "refund", "charge", "vat")),
    ("sales", ("quote", "discount", "bulk", "pricing")),
]


def route_queue(subject: str, body: str) -> Queue:
    """Send a message to the first queue whose keyword appears (legal, then security, billing, sales)."""
    text = f"{subject} {body}".lower()
    for queue, words in _QUEUE_RULES:
        for w in words:
            if w in text:
                return Queue(queue=queue, keyword=w)
    return Queue(queue="other", keyword="")


_QUEUE_SENTENCES = {
    "legal": ["My lawyer will contact you.", "This may end in a lawsuit.", "Under GDPR I ask for my data.",
              "We will see you in court."],
    "security": ["I think my account was hacked.", "I got a phishing mail in your name.",
                 "Was there a data breach?", "My card was stolen after buying here."],
    "billing": ["The invoice is wrong.", "I want a refund.", "You charge me twice.", "The VAT number is missing."],
    "sales": ["Can I get a quote for 50 chairs?", "Is there a discount for schools?", "We want to buy in bulk.",
              "Please send your pricing."],
    "other": ["The blue lamp is lovely.", "How do I change my address?", "Thanks for the quick reply.",
              "Your shop opens at nine?"],
}


def gen_queue(rng: random.Random) -> tuple[str, str]:
    topics = rng.sample(list(_QUEUE_SENTENCES), rng.choice([1, 1, 2, 2, 3]))
    body = " ".join(rng.choice(_QUEUE_SENTENCES[t]) for t in topics)
    subject = rng.choice(["Question", "Hello", "Urgent", "About my order", "Request"])
    return (subject, body)


# -- extraction that copies a span ---------------------------------------------------------------------


class Contact(BaseModel):
    name: Optional[str]
    email: Optional[str]


_EMAIL = re.compile(r"[A-Za-z0-9._-]+@[A-Za-z0-9-]+\.[A-Za-z]{2,}")
_NAME = re.compile(r"(?:my name is|I am|this is) ([A-Z][a-z]+(?: [A-Z][a-z]+)?)")


def extract_contact(text: str) -> Contact:
    """Copy the writer's name (after "my name is", "I am" or "this is") and the first email address."""
    name = _NAME.search(text)
    email = _EMAIL.search(text)
    return Contact(name=name.group(1) if name else None, email=email.group(0) if email else None)


_FIRST = ["Anna", "Ben", "Chloe", "Dario", "Elif", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kasia", "Liam", "Mona",
          "Nils", "Olga", "Pavel", "Rosa", "Sven", "Tara", "Ugo"]
_LAST = ["Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Holm", "Ivanova", "Jensen", "Kowalski", "Lopez",
         "Moreau", "Novak", "Ortiz", "Petrov"]
_DOMAINS = ["mail.com", "example.org", "post.de", "inbox.fr", "web.io"]


def gen_contact(rng: random.Random) -> tuple[str]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    name = first if rng.random() < 0.4 else f"{first} {last}"
    user = rng.choice([first.lower(), f"{first.lower()}.{last.lower()}", f"{first[0].lower()}{last.lower()}{rng.randint(1, 99)}"])
    email = f"{user}@{rng.choice(_DOMAINS)}"
    intro = rng.choice(["Hi, my name is {n}.", "Hello, I am {n}.", "Hi, this is {n}.", "Hello there."]).format(n=name)
    contact = rng.choice(["You can reach me at {e}.", "Write to {e} please.", "My mail: {e}", ""]).format(e=email)
    middle = rng.choice(["My order is late.", "The lamp is broken.", "I like your shop.", "Can you call me back?"])
    parts = [intro, middle, contact]
    return (" ".join(p for p in parts if p),)


# -- unit and number normalisation ---------------------------------------------------------------------


class Quantity(BaseModel):
    item: str
    amount: int
    unit: Literal["g", "ml", "piece"]


_UNITS = {"kg": ("g", 1000), "kilo": ("g", 1000), "g": ("g", 1), "gram": ("g", 1), "l": ("ml", 1000),
          "liter": ("ml", 1000), "litre": ("ml", 1000), "ml": ("ml", 1), "x": ("piece", 1), "pcs": ("piece", 1)}
_QTY = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([a-z]+)?\s+(.+?)\s*$")


def parse_quantity(line: str) -> Quantity:
    """Normalise a shopping-list line to grams, millilitres or pieces (kg, l: times 1000)."""
    m = _QTY.match(line.lower())
    if not m:
        return Quantity(item=line.strip().lower(), amount=1, unit="piece")
    number, word, item = float(m.group(1).replace(",", ".")), m.group(2), m.group(3)
    if word in _UNITS:
        unit, factor = _UNITS[word]
    else:
        unit, factor = "piece", 1
        item = f"{word} {item}" if word else item
    return Quantity(item=item, amount=round(number * factor), unit=unit)  # type: ignore[arg-type]


_ITEMS = ["flour", "milk", "rice", "apples", "yogurt", "olive oil", "sugar", "eggs", "tomatoes", "orange juice",
          "butter", "coffee beans", "lemons", "water"]


def gen_quantity(rng: random.Random) -> tuple[str]:
    unit = rng.choice(["kg", "kilo", "g", "gram", "l", "liter", "litre", "ml", "x", "pcs", ""])
    if unit in ("kg", "kilo", "l", "liter", "litre"):
        number = rng.choice([str(rng.randint(1, 5)), f"{rng.randint(0, 4)}.{rng.choice([25, 5, 75, 2])}",
                             f"{rng.randint(1, 3)},5"])
    else:
        number = str(rng.randint(1, 12) if unit in ("x", "pcs", "") else rng.choice([50, 100, 125, 250, 330, 500, 750]))
    space = " " if rng.random() < 0.7 or not unit else ""
    unit_text = unit.upper() if unit and rng.random() < 0.15 else unit
    return (f"{number}{space}{unit_text} {rng.choice(_ITEMS)}".replace("  ", " "),)


# -- date parsing ----------------------------------------------------------------------------------------


class Day(BaseModel):
    year: int
    month: int
    day: int


_MONTHS = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
           "november", "december"]


def parse_date(text: str) -> Day:
    """Read a date written as "October 7, 2029", "7 Oct 2029", "17/12/1995" (day first) or "2029-10-07"."""
    t = text.strip().lower().replace(",", " ")
    m = re.match(r"^(\d{4})-(\d{1,2})-(\d{1,2})$", t)
    if m:
        return Day(year=int(m.group(1)), month=int(m.group(2)), day=int(m.group(3)))
    m = re.match(r"^(\d{1,2})/(\d{1,2})/(\d{4})$", t)
    if m:
        return Day(year=int(m.group(3)), month=int(m.group(2)), day=int(m.group(1)))
    parts = t.split()
    if parts[0].isdigit():
        day, month_word, year = parts[0], parts[1], parts[2]
    else:
        month_word, day, year = parts[0], parts[1], parts[2]
    month = next(i + 1 for i, name in enumerate(_MONTHS) if name.startswith(month_word[:3]))
    return Day(year=int(year), month=month, day=int(day))


def gen_date(rng: random.Random) -> tuple[str]:
    y, mo, d = rng.randint(1950, 2039), rng.randint(1, 12), rng.randint(1, 28)
    name = _MONTHS[mo - 1].capitalize()
    text = rng.choice([f"{name} {d}, {y}", f"{d} {name[:3]} {y}", f"{d} {name} {y}", f"{d:02d}/{mo:02d}/{y}",
                       f"{d}/{mo}/{y}", f"{y}-{mo:02d}-{d:02d}"])
    return (text,)


# -- a nested model answer ---------------------------------------------------------------------------------


class Place(BaseModel):
    city: str
    country: str


class Shipment(BaseModel):
    carrier: str
    origin: Place
    weight_kg: int
    express: bool


_CARRIERS = ["DHL", "UPS", "FedEx", "GLS", "DPD", "PostNL"]
_CITIES = [("Lyon", "France"), ("Porto", "Portugal"), ("Gdansk", "Poland"), ("Turin", "Italy"), ("Ghent", "Belgium"),
           ("Malmo", "Sweden"), ("Bilbao", "Spain"), ("Graz", "Austria"), ("Leeds", "UK"), ("Bremen", "Germany")]


def describe_shipment(note: str) -> Shipment:
    """Read a shipping note: carrier (first word), origin "from CITY, COUNTRY", weight in kg, express if it says so."""
    carrier = note.split()[0]
    m = re.search(r"from ([A-Z][a-z]+), ([A-Za-z]+)", note)
    city, country = (m.group(1), m.group(2)) if m else ("unknown", "unknown")
    w = re.search(r"(\d+)\s*kg", note)
    return Shipment(carrier=carrier, origin=Place(city=city, country=country), weight_kg=int(w.group(1)) if w else 0,
                    express="express" in note.lower())


def gen_shipment(rng: random.Random) -> tuple[str]:
    carrier, (city, country) = rng.choice(_CARRIERS), rng.choice(_CITIES)
    kg = rng.randint(1, 40)
    express = rng.random() < 0.4
    text = rng.choice([
        "{c} parcel from {city}, {country}, {kg} kg{x}.",
        "{c}{x2} box of {kg}kg from {city}, {country}.",
        "{c}: {kg} kg shipped from {city}, {country}{x}.",
    ]).format(c=carrier, city=city, country=country, kg=kg, x=", express" if express else "",
              x2=" express" if express else "")
    return (text,)


TEACHERS = {
    "size": (size_message, gen_size),
    "queue": (route_queue, gen_queue),
    "contact": (extract_contact, gen_contact),
    "quantity": (parse_quantity, gen_quantity),
    "date": (parse_date, gen_date),
    "shipment": (describe_shipment, gen_shipment),
}
