import re


def test_api_docs_page_serves_its_assets_itself(client):
    # the browsable API page must work with no internet: no CDN at run time
    response = client.get("/api/docs/")
    assert response.status_code == 200
    urls = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert urls, "the page should load Swagger UI"
    assert all(u.startswith("/") for u in urls), urls
    assert client.get("/api/v1/schema/").status_code == 200
