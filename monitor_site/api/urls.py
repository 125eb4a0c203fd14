from django.urls import path

from monitor_site.api import views

app_name = "api"
urlpatterns = [
    path("sessions", views.session_create, name="session_create"),
    path("assessments", views.assessment_create, name="assessment_create"),
]
