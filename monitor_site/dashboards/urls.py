from django.urls import path

from monitor_site.dashboards import views

app_name = "dashboards"
urlpatterns = [
    path("", views.patient_list, name="patient_list"),
    path("patients/<int:patient_id>/", views.patient_detail, name="patient_detail"),
]
