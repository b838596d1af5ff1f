"""The patient app at the site root: the shell for every screen, its worker, manifest and translations."""

from django.urls import path

from frontend import views, visit_sheet_pages

urlpatterns = [
    path("", views.patient_app, name="patient-app"),
    # Screens the app draws itself; a reload or a link from a reminder lands on the same shell.
    # An emailed invitation: the code is after "#" ("/join/#CODE"), which never reaches a server.
    path("join/", views.patient_app, name="patient-join"),
    # Links of older emails carried the code in the path, which servers log: the app does not
    # redeem it, and asks for the code typed instead (docs/security.md).
    path("join/<str:code>/", views.patient_app, name="patient-join-code-in-path"),
    # An emailed sign-in link; the app posts its token and takes it out of the address bar.
    path("signin/", views.patient_app, name="patient-sign-in-link"),
    path("tasks/<int:task_id>/", views.patient_app, name="patient-task"),
    path("inbox/", views.patient_app, name="patient-inbox"),
    path("settings/", views.patient_app, name="patient-settings"),
    path("access/", views.patient_app, name="patient-access"),
    # A link in a reminder email: marks the message read, then opens the step.
    path("r/<str:token>/", views.open_message, name="patient-open-message"),
    path("health-check/", views.patient_app, name="patient-health-check"),
    # The safety net: who to call and the warning signs (also offline), and the check-in after surgery.
    path("when-to-call/", views.patient_app, name="patient-when-to-call"),
    path("check-in/", views.patient_app, name="patient-check-in"),
    # About your surgery: its topics, one page each, and the words explained (also offline).
    path("about/", views.patient_app, name="patient-about"),
    path("about/<slug:key>/", views.patient_app, name="patient-about-page"),
    # The visit sheet to print from the browser (the PDF is the API's me/visit-sheet.pdf).
    path("visit-sheet/", visit_sheet_pages.my_visit_sheet, name="patient-visit-sheet-page"),
    path("sw.js", views.service_worker, name="patient-sw"),
    path("manifest.webmanifest", views.manifest, name="patient-manifest"),
    path("app-i18n/<str:lang>.js", views.patient_catalog, name="patient-catalog"),
    # The strings of one screen loaded later (app.js's withStrings), also kept offline.
    path("app-i18n/<str:lang>/<str:part>.json", views.patient_strings, name="patient-strings"),
]
