"""The edge that starts a requested training run: on the gpu queue, or in the demo (no worker) in a
background thread of the web process, so the request that asked for it answers at once."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.dispatch import receiver

from monitor_site.modelops.models import TrainingRun
from monitor_site.modelops.signals import training_run_requested
from monitor_site.modelops.tasks import run_training

log = logging.getLogger(__name__)


@receiver(training_run_requested, dispatch_uid="modelops_run_requested_training")
def enqueue_training_run(sender: Any, *, run: TrainingRun, **kwargs: Any) -> None:
    if settings.TRAINING_IN_BACKGROUND_THREAD:
        run_id = run.pk
        transaction.on_commit(lambda: training_thread_start(run_id))
    else:
        run_training.delay_on_commit(run.pk)


def training_thread_start(run_id: int) -> threading.Thread:
    def work() -> None:
        try:
            run_training.apply(args=[run_id])  # the task records failure on the run itself
        except Exception:  # noqa: BLE001 - a thread must not die silently
            log.exception("training run %s failed in its background thread", run_id)
        finally:
            connections.close_all()

    thread = threading.Thread(target=work, name=f"training-run-{run_id}", daemon=True)
    thread.start()
    return thread
