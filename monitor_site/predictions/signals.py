"""Sent after predictions are stored, so alerts (and anything later) react without predictions
importing them. Receivers get `patient_ids`: the patients whose trajectory just changed."""

from django.dispatch import Signal

predictions_stored = Signal()
