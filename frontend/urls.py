from django.urls import include, path

urlpatterns = [
    path("coordinator/", include("frontend.coordinator_urls")),
    path("", include("frontend.patient_urls")),
]
