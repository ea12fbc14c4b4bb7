"""Django's own error answers under /api/ come in the API's error shape (the schema documents
JSON errors); pages keep their HTML error pages."""

import pytest

pytestmark = pytest.mark.django_db


def _assert_error_shape(response, status, code):
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": response.json()["detail"], "code": code, "fields": {}}
    assert response.json()["detail"]


def test_an_api_url_that_matches_no_route_is_a_json_404(api_client):
    # /copies/{copy_id}/ takes an integer: "abc" matches no route at all
    _assert_error_shape(api_client.get("/api/v1/copies/abc/"), 404, "not_found")
    _assert_error_shape(api_client.get("/api/v1/no-such-thing/"), 404, "not_found")


def test_a_body_django_refuses_before_drf_is_a_json_400(api_client, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = api_client.post(
        "/api/v1/auth/token/", {f"f{i}": "x" for i in range(10)}, format="multipart"
    )
    _assert_error_shape(response, 400, "bad_request")


def test_pages_keep_their_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
