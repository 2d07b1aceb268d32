"""Integrations: webhooks from a PostgreSQL outbox, the event stream, pop enrichment."""
