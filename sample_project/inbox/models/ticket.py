from enum import Enum
from typing import Literal

from .base import InboxModel


class Urgency(str, Enum):
    low = "low"
    normal = "normal"
    high = "high"


Team = Literal["billing", "shipping", "technical", "general"]


class Ticket(InboxModel):
    subject: str
    body: str


class Triage(InboxModel):
    urgency: Urgency
    team: Team
