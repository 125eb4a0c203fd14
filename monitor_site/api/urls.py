from django.urls import path

from monitor_site.api import read_views, views

app_name = "api"
urlpatterns = [
    path("sessions", views.session_create, name="session_create"),
    path("assessments", views.assessment_create, name="assessment_create"),
    # Reads for clinicians (login session); care-team scoped like the pages.
    path("patients", read_views.patient_list, name="patient_list"),
    # <str:...>, not <int:...>: a malformed id must reach the view and get a JSON 404, not the HTML page.
    path("patients/<str:patient_id>/trajectory", read_views.patient_trajectory, name="patient_trajectory"),
    path("alerts", read_views.alert_list, name="alert_list"),
]
