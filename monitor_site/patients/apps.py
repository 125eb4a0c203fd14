from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "monitor_site.patients"
    label = "patients"
