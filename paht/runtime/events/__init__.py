"""The event backbone: CloudEvents envelopes, the transactional outbox, the relay and idempotent consumers."""
