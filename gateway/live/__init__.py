"""Live orders: events from webhooks and polling, kept for resuming, fanned out to
subscribers (docs/live.md)."""
