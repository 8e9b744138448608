"""Database models and connection, shared by the hub (the writer) and rest_api (a reader)."""
