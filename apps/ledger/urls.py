from django.urls import path

from apps.ledger import api

urlpatterns: list = []  # pages: apps/portal/urls.py
api_urlpatterns = [
    path("wallet/", api.WalletApi.as_view(), name="wallet"),
    path("operator/deposits/", api.OperatorDepositApi.as_view(), name="operator-deposit"),
    path("operator/withdrawals/", api.OperatorWithdrawalApi.as_view(), name="operator-withdrawal"),
]
