from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from apps.accounts import urls as accounts_urls
from apps.copies import urls as copies_urls
from apps.core import urls as core_urls
from apps.fees import urls as fees_urls
from apps.ledger import urls as ledger_urls
from apps.market import urls as market_urls
from apps.portal import urls as portal_urls
from apps.positions import urls as positions_urls
from apps.stats import urls as stats_urls
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
    stats_urls,
    portal_urls,  # every page
]

api_patterns = [p for module in _apps for p in getattr(module, "api_urlpatterns", [])]
page_patterns = [p for module in _apps for p in getattr(module, "urlpatterns", [])]

admin.site.site_header = "Smart Sync operations"
admin.site.site_title = "Smart Sync admin"
admin.site.index_title = "Operations"

handler400 = "apps.core.api.bad_request_view"
handler404 = "apps.core.api.not_found_view"
handler500 = "apps.core.api.server_error_view"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI under the Content-Security-Policy: its init script is served by the same view
    # (?script) instead of inline, and the page's inline style lives in static/css/api-docs.css.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/v1/", include((api_patterns, "api"), namespace="api")),
    path("", include(page_patterns)),
]
