"""The sans-I/O realtime session (no asyncio, no clock, no models)."""

from .limits import SessionLimits
from .session import Output, Session

__all__ = ["Output", "Session", "SessionLimits"]
