"""Pages: the patient app's shell."""

from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie


@ensure_csrf_cookie
def patient_app(request):
    return render(request, "frontend/app.html")
