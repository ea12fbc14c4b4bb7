from django.urls import path

from apps.fees import api

urlpatterns: list = []

api_urlpatterns = [
    path(
        "operator/profit-share/settle/",
        api.OperatorProfitShareSettleApi.as_view(),
        name="operator-profit-share-settle",
    ),
    path(
        "operator/funding/settle/",
        api.OperatorFundingSettleApi.as_view(),
        name="operator-funding-settle",
    ),
    path("lead/earnings/", api.LeadEarningsApi.as_view(), name="lead-earnings"),
    path(
        "copies/<int:copy_id>/settlements/",
        api.CopySettlementListApi.as_view(),
        name="copy-settlement-list",
    ),
]
