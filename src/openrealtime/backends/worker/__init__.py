"""Model worker processes: native model code runs here, never in the server process.

See :mod:`.supervisor` (the server side), :mod:`.host` (the worker process) and
:mod:`.proxy` (the backend Protocols over a worker).
"""

from .proxy import (
    WorkerLLM,
    WorkerSTT,
    WorkerTTS,
    WorkerVAD,
    WorkerVision,
)
from .supervisor import Worker

__all__ = ["Worker", "WorkerLLM", "WorkerSTT", "WorkerTTS", "WorkerVAD", "WorkerVision"]
