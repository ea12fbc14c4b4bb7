from django.urls import path

from apps.copies import api, views

urlpatterns = [
    path("copies/", views.my_copies, name="my_copies"),
    path("copies/live/", views.my_copies_live, name="my_copies_live"),
    path("copies/new/", views.copy_new, name="copy_new"),
    path("copies/new/preview/", views.copy_new_preview, name="copy_new_preview"),
    path("copies/stop-loss-level/", views.copy_stop_loss_level, name="copy_stop_loss_level"),
    path("copies/<int:copy_id>/", views.copy_detail, name="copy_detail"),
    path("copies/<int:copy_id>/live/figures/", views.copy_detail_figures, name="copy_figures"),
    path(
        "copies/<int:copy_id>/live/positions/",
        views.copy_detail_positions,
        name="copy_positions",
    ),
    path(
        "copies/<int:copy_id>/positions/<int:position_id>/close/",
        views.copy_position_close,
        name="copy_position_close",
    ),
    path("copies/<int:copy_id>/settings/", views.copy_settings, name="copy_settings"),
    path(
        "copies/<int:copy_id>/settings/investment/",
        views.copy_investment,
        name="copy_investment",
    ),
    path(
        "copies/<int:copy_id>/settings/stop-loss/",
        views.copy_stop_loss,
        name="copy_stop_loss",
    ),
    path("copies/<int:copy_id>/stop/", views.copy_stop, name="copy_stop"),
]
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
    path(
        "copies/<int:copy_id>/settlements/",
        api.CopySettlementListApi.as_view(),
        name="copy-settlement-list",
    ),
]
