"""URL map: the API under /api/v1/, FHIR R4 under /fhir/R4/, its schema and docs, the admin, health, and the PWA."""

from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from prepapp.lib.healthz import healthz
from prepapp.lib.security import csp_override

urlpatterns = [
    path("api/v1/", include("prepapp.api.urls")),
    path("fhir/R4/", include("prepapp.api.fhir_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs pages' own templates carry the Content-Security-Policy nonce (prepapp/lib/security.py).
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
