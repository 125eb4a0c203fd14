"""Sent by the patients services so that other apps react without being imported here (services never
import tasks: the receiver that enqueues work is the edge)."""

from django.dispatch import Signal

# A new conversation session was stored and should be scored; receivers get `session_id`. Sent inside
# the ingesting transaction: a receiver that enqueues work defers it to the commit.
session_ingested = Signal()

# Questionnaires were stored (self-report): receivers get `patient_ids` and evaluate the self-report alert
# rules on each patient's latest questionnaire. Sent inside the ingesting transaction.
assessments_ingested = Signal()
