from django.urls import path

from apps.stats import api

urlpatterns: list = []  # the directory and profile pages are apps.portal's
api_urlpatterns = [
    path("traders/", api.TraderListApi.as_view(), name="trader-list"),
    path("traders/<int:trader_id>/", api.TraderDetailApi.as_view(), name="trader-detail"),
    path(
        "traders/<int:trader_id>/simulate/",
        api.TraderSimulateApi.as_view(),
        name="trader-simulate",
    ),
]
