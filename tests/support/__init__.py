"""Helpers for the reminder tests: real SMTP sink, Web Push stand-in, worker/beat/redis processes."""
