"""Django's admin app with the audited site (prepapp.admin_audit), named in INSTALLED_APPS.

Kept out of prepapp/apps.py: Django picks an app's config from the classes its apps.py holds.
"""

from django.contrib.admin.apps import AdminConfig


class AuditedAdminConfig(AdminConfig):
    """django.contrib.admin with a site whose autocomplete is audited like every other read of a patient."""

    default_site = "prepapp.admin_audit.AuditedAdminSite"
