from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "monitor_site.patients"
    verbose_name = "Patients and care teams"
    label = "patients"
