"""The service's entry point: enrich a batch of incoming tickets."""

from __future__ import annotations

import json
import sys

from inbox.extract import extract_order
from inbox.triage import classify_ticket

TICKETS = [
    ("Refund please", "I was charged twice for order A-10422 on 2026-03-02, refund asap"),
    ("Where is my parcel", "Tracking for B-55310 has not moved since 2026-02-14."),
    ("App crash", "The app shows an error when I open settings."),
    ("Question about sizes", "Just wondering whether the jacket runs small."),
]


def main() -> int:
    for subject, body in TICKETS:
        triage = classify_ticket(subject, body)
        order = extract_order(body)
        print(json.dumps({"subject": subject, "triage": triage.model_dump(mode="json"),
                          "order": order.model_dump(mode="json")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
