from django.urls import path

from apps.traders import api

urlpatterns: list = []  # pages: apps/portal/urls.py
api_urlpatterns = [
    path(
        "traders/<int:trader_id>/positions/",
        api.TraderPositionListApi.as_view(),
        name="trader-position-list",
    ),
    path("lead/transfer/", api.LeadTransferApi.as_view(), name="lead-transfer"),
    path("lead/account/", api.LeadAccountApi.as_view(), name="lead-account"),
    path("lead/end/", api.LeadEndApi.as_view(), name="lead-end"),
    path("lead/spot/orders/", api.LeadSpotOrderApi.as_view(), name="lead-spot-order"),
    path("lead/spot/holdings/", api.LeadSpotHoldingListApi.as_view(), name="lead-spot-holdings"),
    path("lead/positions/", api.LeadPositionListApi.as_view(), name="lead-position-list"),
    path(
        "lead/positions/<int:position_id>/close/",
        api.LeadPositionCloseApi.as_view(),
        name="lead-position-close",
    ),
    path(
        "lead/positions/<int:position_id>/leverage/",
        api.LeadPositionLeverageApi.as_view(),
        name="lead-position-leverage",
    ),
    path(
        "lead/positions/<int:position_id>/margin/",
        api.LeadPositionMarginApi.as_view(),
        name="lead-position-margin",
    ),
    path(
        "operator/lead-traders/",
        api.OperatorLeadTraderCreateApi.as_view(),
        name="operator-lead-trader-create",
    ),
    path(
        "operator/lead-traders/<int:trader_id>/end/",
        api.OperatorLeadTraderEndApi.as_view(),
        name="operator-lead-trader-end",
    ),
]
