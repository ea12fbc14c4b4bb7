from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.accounts import urls as accounts_urls
from apps.copies import urls as copies_urls
from apps.core import urls as core_urls
from apps.fees import urls as fees_urls
from apps.ledger import urls as ledger_urls
from apps.market import urls as market_urls
from apps.positions import urls as positions_urls
from apps.traders import urls as traders_urls

_apps = [
    core_urls,
    accounts_urls,
    ledger_urls,
    market_urls,
    positions_urls,
    traders_urls,
    copies_urls,
    fees_urls,
]

api_patterns = [p for module in _apps for p in getattr(module, "api_urlpatterns", [])]
page_patterns = [p for module in _apps for p in getattr(module, "urlpatterns", [])]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include((api_patterns, "api"), namespace="api")),
    path("", include(page_patterns)),
]
