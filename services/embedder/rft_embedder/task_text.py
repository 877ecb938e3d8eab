"""The text that names a prompt's task: what gets embedded, and so what topics are built from.

Defined in :mod:`rft_runtime.embedding.text` (services that read prompt vectors without the model
compute it too); named here.
"""

from __future__ import annotations

from rft_runtime.embedding.text import TaskTextSource, task_text

__all__ = ["TaskTextSource", "task_text"]
