"""The coordinator pages, under /coordinator/."""

from django.contrib.auth.views import LogoutView
from django.urls import path

from frontend import coordinator_views as views
from frontend import sign_in_views, team_views, visit_sheet_pages

app_name = "coordinator"

urlpatterns = [
    path("", views.roster_page, name="roster"),
    path("login/", sign_in_views.CoordinatorLoginView.as_view(), name="login"),
    path("login/code/", sign_in_views.verify_page, name="verify"),
    path("login/set-up-code/", sign_in_views.setup_page, name="setup"),
    path("team/", team_views.team_page, name="team"),
    path("team/<int:membership_id>/reset-second-factor/", team_views.reset_second_factor,
         name="reset-second-factor"),
    path("logout/", LogoutView.as_view(next_page="coordinator:login"), name="logout"),
    path("enrol/", views.enrol_page, name="enrol"),
    path("patients/<int:pk>/", views.patient_page, name="patient"),
    path("patients/<int:pk>/visit-sheet/", visit_sheet_pages.patient_visit_sheet, name="visit-sheet"),
    path("patients/<int:pk>/alerts/<int:alert_id>/acknowledge/", views.acknowledge_alert, name="acknowledge-alert"),
]
