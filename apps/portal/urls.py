"""Every page's URL (the API's are in each app's urls.py, under /api/v1/)."""

from django.urls import path

from apps.portal.views import console, copies, notifications, traders, wallet

urlpatterns = [
    # the public side: home board, lead trader directory and profiles
    path("", traders.home, name="home"),
    path("traders/", traders.trader_list, name="trader_list"),
    path("traders/<int:trader_id>/", traders.trader_profile, name="trader_profile"),
    # the lead console (approved lead traders)
    path("lead/", console.lead_console, name="lead_console"),
    path("lead/quote/", console.lead_console_quote, name="lead_console_quote"),
    path("lead/transfer/", console.lead_console_transfer, name="lead_console_transfer"),
    path("lead/positions/open/", console.lead_console_open, name="lead_console_open"),
    path(
        "lead/positions/<int:position_id>/",
        console.lead_console_position,
        name="lead_console_position",
    ),
    path(
        "lead/positions/<int:position_id>/close/",
        console.lead_console_close,
        name="lead_console_close",
    ),
    path(
        "lead/positions/<int:position_id>/leverage/",
        console.lead_console_leverage,
        name="lead_console_leverage",
    ),
    path(
        "lead/positions/<int:position_id>/margin/",
        console.lead_console_margin,
        name="lead_console_margin",
    ),
    path("lead/end/", console.lead_console_end, name="lead_console_end"),
    path("lead/spot/quote/", console.lead_console_spot_quote, name="lead_console_spot_quote"),
    path(
        "lead/spot/transfer/",
        console.lead_console_spot_transfer,
        name="lead_console_spot_transfer",
    ),
    path("lead/spot/buy/", console.lead_console_spot_buy, name="lead_console_spot_buy"),
    path("lead/spot/sell/", console.lead_console_spot_sell, name="lead_console_spot_sell"),
    # the follower portal: My Copies, the copy wizard, Copy Trade Details, Settings
    path("copies/", copies.my_copies, name="my_copies"),
    path("copies/live/", copies.my_copies_live, name="my_copies_live"),
    path("copies/new/", copies.copy_new, name="copy_new"),
    path("copies/new/preview/", copies.copy_new_preview, name="copy_new_preview"),
    path("copies/stop-loss-level/", copies.copy_stop_loss_level, name="copy_stop_loss_level"),
    path("copies/<int:copy_id>/", copies.copy_detail, name="copy_detail"),
    path("copies/<int:copy_id>/live/figures/", copies.copy_detail_figures, name="copy_figures"),
    path(
        "copies/<int:copy_id>/live/positions/",
        copies.copy_detail_positions,
        name="copy_positions",
    ),
    path(
        "copies/<int:copy_id>/positions/<int:position_id>/close/",
        copies.copy_position_close,
        name="copy_position_close",
    ),
    path("copies/<int:copy_id>/settings/", copies.copy_settings, name="copy_settings"),
    path(
        "copies/<int:copy_id>/settings/investment/",
        copies.copy_investment,
        name="copy_investment",
    ),
    path(
        "copies/<int:copy_id>/settings/stop-loss/",
        copies.copy_stop_loss,
        name="copy_stop_loss",
    ),
    path("copies/<int:copy_id>/stop/", copies.copy_stop, name="copy_stop"),
    # money and notices
    path("wallet/", wallet.wallet, name="wallet"),
    path("notifications/", notifications.notification_list, name="notification_list"),
    path(
        "notifications/read/",
        notifications.notification_mark_read,
        name="notification_mark_read",
    ),
]
