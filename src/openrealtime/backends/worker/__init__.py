"""Model worker processes: native model code runs here, never in the server process.

See :mod:`.supervisor` (the server side), :mod:`.host` (the worker process) and
:mod:`.proxy` (the backend Protocols over a worker).
"""

from .proxy import (
    WorkerEcho,
    WorkerLLM,
    WorkerSTT,
    WorkerTTS,
    WorkerTurn,
    WorkerVAD,
    WorkerVision,
)
from .supervisor import Worker

__all__ = ["Worker", "WorkerEcho", "WorkerLLM", "WorkerSTT", "WorkerTTS", "WorkerTurn",
           "WorkerVAD", "WorkerVision"]
