"""The inbox's data models, re-exported so callers write `from inbox.models import Triage`."""

from .orders import OrderMention, ProductRecord, ProductSummary
from .ticket import Team, Ticket, Triage, Urgency

__all__ = ["OrderMention", "ProductRecord", "ProductSummary", "Team", "Ticket", "Triage", "Urgency"]
