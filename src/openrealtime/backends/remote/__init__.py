"""Backends that talk to remote OpenAI-compatible HTTP endpoints."""
