from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The pages people use (every HTML view), above every other app: they read through the
    apps' selectors and write through their services, so pages and the API never disagree."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.portal"
    label = "portal"
