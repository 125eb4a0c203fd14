"""Sent by the modelops services; receivers (the edges) enqueue the work that follows, so services
never import tasks. Both are sent inside the writing transaction: enqueue with delay_on_commit."""

from django.dispatch import Signal

# A model version became the active one; receivers get `model_version`.
model_version_promoted = Signal()
# A training run was queued; receivers get `run` (a TrainingRun).
training_run_requested = Signal()
