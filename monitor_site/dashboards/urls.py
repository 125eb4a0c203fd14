from django.urls import path

from monitor_site.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
    path("patients/<int:patient_id>/notes/", views.patient_note, name="patient_note"),
    path("patients/<int:patient_id>/report/", views.patient_report, name="patient_report"),
    path(
        "patients/<int:patient_id>/predictions/<int:prediction_id>/feedback/",
        views.prediction_feedback,
        name="prediction_feedback",
    ),
    path("patients/<int:patient_id>/export.csv", views.patient_export_csv, name="patient_export_csv"),
    path("patients/<int:patient_id>/fhir.json", views.patient_export_fhir, name="patient_export_fhir"),
    path("alerts/", views.alert_inbox, name="alert_inbox"),
    path(
        "alerts/<int:alert_id>/acknowledge/",
        views.alert_action,
        {"action": "acknowledge"},
        name="alert_acknowledge",
    ),
    path("alerts/<int:alert_id>/resolve/", views.alert_action, {"action": "resolve"}, name="alert_resolve"),
]
