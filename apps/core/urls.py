from django.urls import path

from apps.core import api_index, views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
]
api_urlpatterns = [path("", api_index.ApiIndexApi.as_view(), name="index")]
