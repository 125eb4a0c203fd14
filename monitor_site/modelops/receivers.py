"""The edge that starts a requested training run on the gpu queue."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from monitor_site.modelops.models import TrainingRun
from monitor_site.modelops.signals import training_run_requested
from monitor_site.modelops.tasks import run_training


@receiver(training_run_requested, dispatch_uid="modelops_run_requested_training")
def enqueue_training_run(sender: Any, *, run: TrainingRun, **kwargs: Any) -> None:
    run_training.delay_on_commit(run.pk)
