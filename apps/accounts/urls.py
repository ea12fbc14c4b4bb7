from django.urls import path

from apps.accounts import api

urlpatterns: list = []  # pages: apps/portal/urls.py
api_urlpatterns = [
    path("auth/register/", api.RegisterApi.as_view(), name="auth-register"),
    path("auth/token/", api.TokenApi.as_view(), name="auth-token"),
    path("notifications/", api.NotificationListApi.as_view(), name="notification-list"),
    path("notifications/read/", api.NotificationMarkReadApi.as_view(), name="notification-read"),
]
