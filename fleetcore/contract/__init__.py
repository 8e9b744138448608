"""The wire contract: rooms, publication envelopes, RMF JSON models, ingest messages."""
