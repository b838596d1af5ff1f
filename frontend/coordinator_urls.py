"""The coordinator pages, under /coordinator/."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from frontend import coordinator_views as views

app_name = "coordinator"

urlpatterns = [
    path("", views.roster_page, name="roster"),
    path("login/", views.CoordinatorLoginView.as_view(), name="login"),
    path("logout/", LogoutView.as_view(next_page="coordinator:login"), name="logout"),
    path("enrol/", views.enrol_page, name="enrol"),
    path("patients/<int:pk>/", views.patient_page, name="patient"),
    path("patients/<int:pk>/alerts/<int:alert_id>/acknowledge/", views.acknowledge_alert, name="acknowledge-alert"),
]
