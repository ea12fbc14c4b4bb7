from django.urls import path

from apps.copies import api

urlpatterns: list = []  # pages: apps/portal/urls.py
api_urlpatterns = [
    path("copies/", api.CopyListApi.as_view(), name="copy-list"),
    path("copies/<int:copy_id>/", api.CopyDetailApi.as_view(), name="copy-detail"),
    path(
        "copies/<int:copy_id>/investment/",
        api.CopyInvestmentApi.as_view(),
        name="copy-investment",
    ),
    path("copies/<int:copy_id>/stop/", api.CopyStopApi.as_view(), name="copy-stop"),
    path(
        "copies/<int:copy_id>/positions/",
        api.CopyPositionListApi.as_view(),
        name="copy-position-list",
    ),
    path(
        "copies/<int:copy_id>/positions/<int:position_id>/close/",
        api.CopyPositionCloseApi.as_view(),
        name="copy-position-close",
    ),
    path("copies/<int:copy_id>/events/", api.CopyEventListApi.as_view(), name="copy-event-list"),
]
