from django.urls import path

from apps.traders import api, views

urlpatterns: list = [
    path("", views.home, name="home"),
    path("traders/", views.trader_list, name="trader_list"),
    path("traders/<int:trader_id>/", views.trader_profile, name="trader_profile"),
    # the lead console (approved lead traders)
    path("lead/", views.lead_console, name="lead_console"),
    path("lead/quote/", views.lead_console_quote, name="lead_console_quote"),
    path("lead/transfer/", views.lead_console_transfer, name="lead_console_transfer"),
    path("lead/positions/open/", views.lead_console_open, name="lead_console_open"),
    path(
        "lead/positions/<int:position_id>/",
        views.lead_console_position,
        name="lead_console_position",
    ),
    path(
        "lead/positions/<int:position_id>/close/",
        views.lead_console_close,
        name="lead_console_close",
    ),
    path(
        "lead/positions/<int:position_id>/leverage/",
        views.lead_console_leverage,
        name="lead_console_leverage",
    ),
    path(
        "lead/positions/<int:position_id>/margin/",
        views.lead_console_margin,
        name="lead_console_margin",
    ),
    path("lead/end/", views.lead_console_end, name="lead_console_end"),
]
# traders/ and traders/<id>/ (the public directory and profile) are apps.stats' API
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
