"""Signed webhooks: admins register endpoints; a background deliverer sends them the event log, in order, at least
once (an outbox over the `events` table: each endpoint keeps a cursor into it)."""
