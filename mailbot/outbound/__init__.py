"""The journey out: a campaign's summaries rendered into the outbox, then delivered to the relay."""
