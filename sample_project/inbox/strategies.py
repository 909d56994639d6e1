"""Input strategies for `distilgen generate`: tickets and order texts that look like real mail.

Random unicode makes a poor teacher's input: every answer would be team "general", urgency
"normal". These strategies compose texts from phrases written for this sample (no copied data) so
every team, urgency, order-id spelling and date shape shows up.
"""

from __future__ import annotations

from hypothesis import strategies as st

_TOPICS = {
    "billing": [
        ("Refund request", "I was charged twice for my last order"),
        ("Invoice missing", "I cannot find the invoice for my subscription"),
        ("Payment failed", "my card payment was declined but the money left my account"),
        ("Wrong price", "the price at checkout was higher than on the product page"),
    ],
    "shipping": [
        ("Where is my parcel", "tracking has not moved for a week"),
        ("Delivery address", "the courier left the package at the wrong door"),
        ("Late delivery", "my delivery was promised for Monday and nothing came"),
        ("Damaged package", "the parcel arrived crushed and the box was open"),
    ],
    "technical": [
        ("App crash", "the app closes as soon as I open my orders"),
        ("Login problem", "I reset my password but the login page still refuses it"),
        ("Error on checkout", "I get an error code 502 when I pay"),
        ("Bug report", "the search bar shows results from another shop"),
    ],
    "general": [
        ("Opening hours", "are you open on public holidays"),
        ("Gift wrapping", "do you offer wrapping for presents"),
        ("Store feedback", "the staff in the city store were lovely"),
        ("Partnership", "we would like to stock your products in our shop"),
    ],
}
_URGENT = ["This is urgent.", "Please fix this asap.", "I need this immediately.", "Everything is broken.",
           "I cannot wait any longer.", "I can't use my account at all."]
_CALM = ["Just a question, no rush.", "I was wondering about this.", "Reply whenever you can.",
         "I am curious how this works."]
_NEUTRAL = ["Thanks.", "Kind regards.", "Best, Sam", "Cheers, Priya", ""]
_ORDER_PREFIX = ["order", "Order", "my order", "order number", "ref"]


def _order_id() -> st.SearchStrategy[str]:
    letter = st.sampled_from("ABCDEFGHKLMNPRSTWXZ")
    # hypothesis favours small integers; a fixed bijective scramble spreads them over all five digits
    digits = st.integers(0, 99999).map(lambda n: f"{(n * 7919 + 31337) % 100000:05d}")
    sep = st.sampled_from(["-", "-", "-", ""])
    case = st.sampled_from([str.upper, str.upper, str.lower])
    return st.tuples(letter, sep, digits, case).map(lambda t: t[3](t[0]) + t[1] + t[2])


def _date() -> st.SearchStrategy[str]:
    valid = st.dates().filter(lambda d: 2020 <= d.year <= 2027).map(lambda d: d.isoformat())
    impossible = st.tuples(st.integers(2024, 2027), st.sampled_from([2, 4, 6, 9, 11]), st.just(31)).map(
        lambda t: f"{t[0]}-{t[1]:02d}-{t[2]:02d}")
    return st.one_of(valid, valid, valid, impossible)


@st.composite
def order_texts(draw: st.DrawFn) -> str:
    """A sentence or two that may mention an order id and a date."""
    _, (_, issue) = draw(st.sampled_from([(t, p) for t, ps in _TOPICS.items() for p in ps]))
    parts = [issue[0].upper() + issue[1:]]
    if draw(st.booleans()) or draw(st.booleans()):
        parts.append(f"{draw(st.sampled_from(_ORDER_PREFIX))} {draw(_order_id())}")
    if draw(st.booleans()):
        parts.append(f"on {draw(_date())}")
    text = " ".join(parts) + "."
    return text + " " + draw(st.sampled_from(_NEUTRAL)) if draw(st.booleans()) else text


@st.composite
def tickets(draw: st.DrawFn) -> dict[str, str]:
    """`classify_ticket` arguments: a subject and a body, sometimes urgent, sometimes calm."""
    team = draw(st.sampled_from(list(_TOPICS)))
    subject, issue = draw(st.sampled_from(_TOPICS[team]))
    if draw(st.integers(0, 4)) == 0:  # a subject that says nothing about the topic
        subject = draw(st.sampled_from(["Help", "Hello", "Quick note", "Re: your email"]))
    tone = draw(st.sampled_from(["urgent", "calm", "neutral", "neutral"]))
    body = issue[0].upper() + issue[1:] + "."
    if draw(st.booleans()):
        body += f" It is about order {draw(_order_id())}."
    if tone == "urgent":
        body += " " + draw(st.sampled_from(_URGENT))
    elif tone == "calm":
        body = draw(st.sampled_from(_CALM)) + " " + body
    return {"subject": subject, "body": body.strip()}


@st.composite
def products(draw: st.DrawFn) -> dict[str, object]:
    """`Catalog.summarise` arguments: a product name, a price in cents and a stock count."""
    noun = draw(st.sampled_from(["jacket", "mug", "backpack", "lamp", "notebook", "kettle", "scarf"]))
    adjective = draw(st.sampled_from(["Blue", "Travel", "Classic", "Wool", "Mini", "Deluxe"]))
    price = draw(st.sampled_from([499, 999, 1250, 2999, 4500, 12900]) | st.integers(1, 50000))
    stock = draw(st.sampled_from([0, 0, 1, 3, 12, 250]))
    return {"name": f"{adjective} {noun}", "price_cents": price, "stock": stock}


STRATEGIES = {
    "classify_ticket": tickets(),
    "extract_order": st.fixed_dictionaries({"text": order_texts()}),
    "extract_order_async": st.fixed_dictionaries({"text": order_texts()}),
    "Catalog.summarise": products(),
}
