"""Web adapter: the HTTP API, the embeddable widget and the admin API (FastAPI)."""
