from django.urls import path

from apps.market import api

urlpatterns: list = []
api_urlpatterns = [
    path("instruments/", api.InstrumentListApi.as_view(), name="instrument-list"),
    path("prices/", api.PriceListApi.as_view(), name="price-list"),
    path("prices/<str:instrument>/candles/", api.CandleListApi.as_view(), name="price-candles"),
    path("operator/prices/", api.OperatorPriceSetApi.as_view(), name="operator-price-set"),
]
