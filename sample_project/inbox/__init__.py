"""inbox: triage and enrich customer support tickets."""
