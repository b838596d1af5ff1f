"""URL map: the API under /api/v1/, its schema and docs, the admin, health, and the PWA."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView
from rest_framework.routers import DefaultRouter

from checklists import api as checklists_api
from config.security import csp_override
from prepapp import api as prepapp_api
from prepapp import auth_api, data_rights_api, health_check_api, token_api
from prepapp.api_errors import api_not_found
from prepapp.access_log_api import MyAccessLogView
from prepapp.health import healthz
from prepapp.roster_api import RosterCsvView, RosterView

router = DefaultRouter()
router.register("patients", prepapp_api.PatientViewSet, basename="patient")
router.register("cases", prepapp_api.SurgeryCaseViewSet, basename="case")
router.register("protocols", checklists_api.ProtocolViewSet, basename="protocol")
router.register("me/tasks", prepapp_api.MyTaskViewSet, basename="my-task")

api_v1 = [
    path("auth/invitation/", auth_api.InvitationSignInView.as_view(), name="auth-invitation"),
    path("auth/token/", token_api.ObtainTokenView.as_view(), name="auth-token"),
    path("auth/token/revoke/", token_api.RevokeTokenView.as_view(), name="auth-token-revoke"),
    path("auth/signout/", auth_api.SignOutView.as_view(), name="auth-signout"),
    path("auth/signout-everywhere/", auth_api.SignOutEverywhereView.as_view(), name="auth-signout-everywhere"),
    path("auth/sign-in-link/", auth_api.SignInLinkRequestView.as_view(), name="auth-sign-in-link"),
    path("auth/sign-in-link/redeem/", auth_api.SignInLinkRedeemView.as_view(), name="auth-sign-in-link-redeem"),
    path("patients/<int:pk>/invitation/", auth_api.PatientInvitationView.as_view(), name="patient-invitation"),
    path("me/", prepapp_api.MeView.as_view(), name="me"),
    path("me/case/", prepapp_api.MyCaseView.as_view(), name="my-case"),
    path("me/health-check/", health_check_api.MyHealthCheckView.as_view(), name="my-health-check"),
    path("patients/<int:pk>/facts/", health_check_api.PatientFactsView.as_view(), name="patient-facts"),
    path("me/access-log/", MyAccessLogView.as_view(), name="my-access-log"),
    path("me/export/", data_rights_api.MyDataExportView.as_view(), name="my-data-export"),
    path("patients/<int:pk>/erase/", data_rights_api.PatientEraseView.as_view(), name="patient-erase"),
    path("me/checklist/", checklists_api.MyChecklistView.as_view(), name="my-checklist"),
    path("me/calendar.ics", checklists_api.MyCalendarView.as_view(), name="my-calendar"),
    path("roster/", RosterView.as_view(), name="roster"),
    path("roster/csv/", RosterCsvView.as_view(), name="roster-csv"),
    path("", include("prepapp.reminders.urls")),
    path("", include(router.urls)),
    # Last: a path that names no endpoint (or an id that is not a number) gets JSON, not a page.
    re_path(r"^.*$", api_not_found),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs pages' own templates carry the Content-Security-Policy nonce (config/security.py).
    path(
        "api/docs/",
        SpectacularSwaggerView.as_view(url_name="schema", template_name="frontend/api_docs/swagger_ui.html"),
        name="api-docs",
    ),
    # Redoc's bundle adds a <style> element before it can be handed a nonce, and builds its
    # search index in a worker made from a blob: URL. Its scripts still need the nonce; the
    # Redocly logo it would fetch from its makers' site stays blocked (it hides itself).
    path(
        "api/redoc/",
        csp_override({"style-src": ["'self'", "'unsafe-inline'"], "worker-src": ["'self'", "blob:"]})(
            SpectacularRedocView.as_view(url_name="schema", template_name="frontend/api_docs/redoc.html")
        ),
        name="api-redoc",
    ),
    path("admin/", admin.site.urls),
    path("healthz", healthz, name="healthz"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("", include("frontend.urls")),
]
