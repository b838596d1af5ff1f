"""PostgreSQL, as Django's backend, with a health check that needs no round trip (see base.py)."""
