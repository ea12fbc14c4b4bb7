"""The whole follower journey of issue 7 in chromium, three people in three browser contexts:

sign up -> the operator deposits (admin, "Deposit or withdraw") -> directory -> profile -> Copy
-> the wizard refuses 50 next to the field -> copy 1,000 -> the lead opens from the console ->
the position appears on Copy Trade Details (live, without a reload) with "why this size" ->
Modify investment -> Total Stop Loss for Trader -> Stop copying -> the wallet shows the money back.

Once at 1280 px and once at 390 px (every context at that width). Any Content-Security-Policy
violation, console error or uncaught script error in any context fails the test.

Mirroring really happens: the live server commits each request in its own transaction, the lead
open's on-commit listener dispatches the mirroring task, and Celery runs it eagerly in the
server's thread (CELERY_TASK_ALWAYS_EAGER, config/settings/test.py) before the console answers.

The money, by hand (SPEC §4: BTC-USDT-SWAP contract value 0.01 BTC, taker fee 0.05%; the price
stays at 50,000 all along, so no PnL and no profit share):
- the operator deposits 5,000.00 -> main 5,000.00
- copy 1,000.00 -> main 4,000.00, copy account 1,000.00
- the lead (equity 10,000.00) opens 1,000.00 margin at 5x: 1,000 x 5 / (50,000 x 0.01) = 10.00
  contracts, fee 10 x 0.01 x 50,000 x 0.0005 = 2.50
- the copy mirrors the same share of equity: 1,000 / 10,000 = 10% -> margin 100.00, 1.00
  contract, fee 1 x 0.01 x 50,000 x 0.0005 = 0.25 -> copy cash 999.75, available 899.75
- Modify to 1,500.00: 500.00 more from main -> main 3,500.00, copy cash 1,499.75
- Total Stop Loss for Trader 300 USDT: stops at PnL -300.00, equity 1,500 - 300 = 1,200.00
- Stop copying: the contract closes at 50,000 (PnL 0, fee 0.25) -> 1,499.50 returns
- main 3,500.00 + 1,499.50 = 4,999.50 (= 5,000 - two fees of 0.25)
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from apps.copies.models import Copy
from apps.ledger.services import account_main
from apps.positions.models import Position
from tests.factories.accounts import PASSWORD, StaffFactory
from tests.factories.trading import lead_make, set_price

pytestmark = pytest.mark.django_db(transaction=True)

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""

NEWCOMER = "newcomer@example.com"
NEWCOMER_PASSWORD = "Journey-pw-2026!"


def _person(chromium_browser, live_server, width: int, who: str):
    """A browser context of its own (cookies, session) at ``width``; ``page.check(where)``
    fails on any CSP violation, console error or uncaught script error so far."""
    context = chromium_browser.new_context(
        base_url=live_server.url, viewport={"width": width, "height": 900}
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.add_init_script(_RECORD_VIOLATIONS)
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def check(where: str):
        violations = page.evaluate("window.__csp || []")
        assert violations == [], f"{who} at {where}: CSP violations {violations}"
        assert errors == [], f"{who} at {where}: console errors {errors}"
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (
            f"{who} at {where}: the page is wider than {width} px"
        )

    page.check = check
    return page


def _nav(page, name: str):
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True)


def _amount_in(page, dt: str):
    """The figure next to the <dt> ``dt`` in a ``.kv`` list."""
    return page.locator(".kv > div").filter(has=page.locator("dt", has_text=dt)).locator("dd")


@pytest.mark.parametrize("width", [1280, 390])
def test_a_newcomer_copies_a_lead_and_gets_the_money_back(chromium_browser, live_server, width):
    from playwright.sync_api import expect

    set_price("BTC-USDT-SWAP", "50000")
    lead = lead_make(equity="10000", nickname="JourneyWhale")
    lead.user.set_password(PASSWORD)
    lead.user.save()
    staff = StaffFactory(email="operator@example.com", is_superuser=True)
    follower = _person(chromium_browser, live_server, width, "follower")
    operator = _person(chromium_browser, live_server, width, "operator")
    trader = _person(chromium_browser, live_server, width, "lead")

    # 1. sign up
    follower.goto("/")
    follower.get_by_role("navigation", name="Main").get_by_role("link", name="Sign up").click()
    follower.get_by_label("Email").fill(NEWCOMER)
    follower.get_by_label("Password:", exact=True).fill(NEWCOMER_PASSWORD)
    follower.get_by_label("Password (again):", exact=True).fill(NEWCOMER_PASSWORD)
    follower.get_by_role("button", name="Sign Up").click()
    expect(follower.locator(".nav-user")).to_have_text(NEWCOMER)
    follower.check("after sign up")

    # 2. the operator credits 5,000 from the admin (the user's page -> "Deposit or withdraw")
    operator.goto("/admin/login/")
    operator.get_by_label("E-mail address").fill(staff.email)
    operator.get_by_label("Password").fill(PASSWORD)
    operator.get_by_role("button", name="Log in").click()
    operator.get_by_role("link", name="Users", exact=True).click()
    operator.locator("#searchbar").fill(NEWCOMER)
    operator.locator("#searchbar").press("Enter")
    operator.get_by_role("link", name=NEWCOMER).click()
    operator.get_by_role("link", name="Deposit or withdraw").click()
    expect(operator.get_by_text("balance 0.00 USDT")).to_be_visible()
    operator.get_by_label("Deposit (money in)").check()
    operator.get_by_label("Amount (USDT)").fill("5,000")
    operator.get_by_role("button", name="Book it").click()
    expect(operator.locator(".messagelist")).to_contain_text(
        f"Deposit of 5,000.00 USDT booked for {NEWCOMER}"
    )
    expect(operator.locator(".messagelist")).to_contain_text("main balance now 5,000.00 USDT")
    operator.check("after the deposit")

    # 3. directory -> profile -> Copy
    _nav(follower, "Traders").click()
    follower.get_by_role("link", name="JourneyWhale").first.click()
    expect(follower).to_have_url(re.compile(rf"/traders/{lead.pk}/$"))
    follower.check("profile")
    follower.get_by_role("link", name="Copy", exact=True).click()
    expect(
        follower.get_by_role("heading", name="Copy JourneyWhale with Smart Sync")
    ).to_be_visible()
    expect(follower.locator(".main-balance")).to_contain_text("5,000.00 USDT available")

    # 4. the wizard refuses 50 next to the field and keeps it
    amount = follower.get_by_role("textbox", name="Total Investment")
    amount.fill("50")
    follower.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
    expect(follower.locator("#field-total_investment .field-error")).to_contain_text(
        "The minimum Total Investment is 100.00 USDT."
    )
    expect(amount).to_have_value("50")
    expect(amount).to_have_attribute("aria-invalid", "true")
    follower.check("the refusal")

    # 5. copy 1,000 (no stop loss in the wizard: it is set later in Settings); the refusal of 50
    # goes as soon as another amount is typed
    amount.fill("1,000")
    expect(follower.locator("#field-total_investment .field-error")).to_have_count(0)
    expect(amount).not_to_have_attribute("aria-invalid", "true")
    follower.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
    expect(follower.get_by_role("heading", name="Total Stop Loss for Trader")).to_be_visible()
    follower.get_by_role("button", name="Next: Review").click()
    expect(follower.get_by_text("1,000.00 USDT moves from your main account")).to_be_visible()
    expect(follower.get_by_text("keeps 4,000.00 USDT", exact=False)).to_be_visible()
    follower.check("review")
    follower.get_by_role("button", name="Confirm and copy JourneyWhale").click()
    expect(follower.get_by_role("heading", name="Copy Trade Details")).to_be_visible()
    expect(follower.locator("#messages")).to_contain_text(
        "You are now copying JourneyWhale with 1,000.00 USDT."
    )
    expect(follower.locator("#open-positions")).to_contain_text("No open positions")
    copy = Copy.objects.get(follower__email=NEWCOMER)
    follower.check("copy started")

    # 6. the lead opens from the console
    trader.goto("/accounts/login/")
    trader.get_by_label("Email").fill(lead.user.email)
    trader.get_by_label("Password").fill(PASSWORD)
    trader.get_by_role("button", name="Sign In").click()
    _nav(trader, "Lead console").click()
    expect(trader.get_by_role("heading", name="Lead console")).to_be_visible()
    trader.get_by_label("Instrument").select_option("BTC-USDT-SWAP")
    trader.get_by_label("Long").check()
    trader.get_by_label("Cross").check()
    trader.get_by_label("Leverage").fill("5")
    trader.get_by_label("Margin", exact=True).fill("1000")
    expect(trader.locator("#open-quote")).to_contain_text("10.00 contracts")
    expect(trader.locator("#open-quote")).to_contain_text("2.50 USDT")
    trader.get_by_role("button", name="Open position").click()
    expect(trader.locator("#messages")).to_contain_text(
        "Opened BTC-USDT-SWAP long 5x cross: 10.00 contracts at 50,000.00 USDT."
    )
    trader.check("after the open")
    # mirrored before the console answered (on commit, eager task in the server thread)
    mirrored = Position.objects.get(account_id=copy.account_id)
    assert (mirrored.size, mirrored.margin) == (Decimal("1"), Decimal("100"))

    # 7. the position appears on Copy Trade Details by itself (the 5 s refresh) with its
    # explanation in words
    positions = follower.locator("#open-positions")
    expect(positions).to_contain_text("BTC-USDT-SWAP", timeout=15_000)
    expect(positions.locator("td[data-label='Size (contracts)']")).to_have_text("1.00")
    expect(positions.locator("td[data-label='Margin (USDT)']")).to_have_text("100.00")
    expect(positions.locator("td[data-label='Your entry (USDT)']")).to_contain_text("50,000.00")
    expect(positions.locator("td[data-label='Your entry (USDT)']")).to_contain_text(
        "lead 50,000.00"
    )
    follower.get_by_text("Why this size").first.click()
    why = follower.locator("details.why").first
    expect(why).to_contain_text("Result: 1.00 contract at 50,000.00 USDT")
    expect(_amount_in(follower, "Available")).to_contain_text("899.75 USDT", timeout=15_000)
    expect(_amount_in(follower, "Margin in use")).to_contain_text("100.00 USDT")
    follower.check("the mirrored position")

    # 8. Modify investment to 1,500 (500 more from the main account)
    follower.get_by_role("link", name="Settings").first.click()
    expect(_amount_in(follower, "Main account available")).to_contain_text("4,000.00 USDT")
    follower.get_by_role("textbox", name="New Total Investment").fill("1,500")
    follower.get_by_role("button", name="Modify").click()
    expect(follower.locator("#messages")).to_contain_text(
        "Total Investment increased to 1,500.00 USDT"
    )
    expect(_amount_in(follower, "Total Investment now")).to_contain_text("1,500.00 USDT")
    expect(_amount_in(follower, "Main account available")).to_contain_text("3,500.00 USDT")
    follower.check("modified")

    # 9. a Total Stop Loss for Trader of 300 USDT, closing everything when it triggers
    stop_loss = follower.locator("#stop-loss-form")
    stop_loss.get_by_role("textbox", name="Total Stop Loss for Trader").fill("300")
    stop_loss.get_by_label("USDT", exact=True).check()
    expect(follower.locator("#stop-loss-level")).to_contain_text("PnL reaches −300.00 USDT")
    expect(follower.locator("#stop-loss-level")).to_contain_text("equity falls to 1,200.00 USDT")
    stop_loss.get_by_label("Close all positions at market").check()
    stop_loss.get_by_role("button", name="Save").click()
    expect(follower.locator("#messages")).to_contain_text(
        "Saved: Total Stop Loss for Trader 300.00 USDT."
    )
    copy.refresh_from_db()
    assert (copy.total_stop_loss, copy.stop_loss_action) == (Decimal("300"), "close_all")
    follower.check("stop loss saved")

    # 10. stop copying: the confirmation says what happens, then the money comes back
    follower.get_by_role("link", name="Stop copying…").click()
    expect(follower.get_by_role("heading", name="Stop copying JourneyWhale?")).to_be_visible()
    expect(
        follower.get_by_text("About 1,499.50 USDT returns to your main account.")
    ).to_be_visible()
    follower.check("stop confirmation")
    follower.get_by_role("button", name="Stop copying").click()
    expect(follower.locator("#messages")).to_contain_text(
        "You stopped copying JourneyWhale: 1,499.50 USDT returned"
    )
    follower.check("stopped")

    # 11. the wallet: 4,999.50 back in the main account, nothing left in copies
    _nav(follower, "Wallet").click()
    expect(_amount_in(follower, "Balance")).to_have_text("4,999.50 USDT")
    expect(_amount_in(follower, "Available")).to_contain_text("4,999.50 USDT")
    expect(follower.locator("#in-copies + .wallet-total")).to_have_text("0.00 USDT")
    statement = follower.locator("#statement")
    returned = statement.locator("tr").filter(has_text="Returned from a copy")
    expect(returned.locator("td[data-label='Amount (USDT)']")).to_contain_text("+1,499.50")
    deposit = statement.locator("tr").filter(has_text="Deposit")
    expect(deposit.locator("td[data-label='Amount (USDT)']")).to_contain_text("+5,000.00")
    raised = (
        statement.locator("tr")
        .filter(has_text="Total Investment increased")
        .filter(has_text="main account")
    )
    expect(raised.locator("td[data-label='Amount (USDT)']")).to_contain_text("-500.00")
    follower.check("wallet")
    user = Copy.objects.get(pk=copy.pk).follower
    assert account_main(user=user).balance == Decimal("4999.50")
    for page in (follower, operator, trader):
        page.context.close()
