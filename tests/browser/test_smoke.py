"""The browser harness works: chromium opens a page served by the live server."""

from tests.browser.conftest import SCREENSHOTS


def test_admin_login_page_shows_its_heading(browser_page):
    from django.contrib import admin
    from playwright.sync_api import expect

    # when a person opens the admin login page
    browser_page.goto("/admin/login/")

    # then they see the site header (the login page's only heading) and the login form
    banner = browser_page.get_by_role("banner")
    expect(banner.get_by_role("link", name=str(admin.site.site_header))).to_be_visible()
    expect(browser_page.get_by_role("button", name="Log in")).to_be_visible()
    SCREENSHOTS.mkdir(exist_ok=True)
    browser_page.screenshot(path=str(SCREENSHOTS / "admin_login.png"), full_page=True)
