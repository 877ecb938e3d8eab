"""Training backends behind one interface (:class:`TrainingBackend`)."""

from rft_trainer_gateway.backends.base import RunHandle, TrainingBackend

__all__ = ["RunHandle", "TrainingBackend"]
