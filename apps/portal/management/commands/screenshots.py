"""``manage.py screenshots`` (``make screenshots``): every main page as a PNG under
docs/screenshots/, at 1280 and 390 px wide, from demo data on a throwaway database.

1. A temporary folder gets its own SQLite database: ``migrate`` and ``seed_demo`` (with its
   three weeks of history: a price path rolled into candles, the leads' trades, copies,
   snapshots and stats, so the charts, the directory and the profiles have figures) run in
   child processes against it (the settings read DATABASE_URL at
   start-up, so this process never touches its own database), with Celery eager (mirroring runs
   inside each request) and the price feed off (prices move only when this script moves them:
   the pictures are repeatable).
2. ``runserver`` serves it on a free local port (DEBUG off: the pages people see).
3. A few actions through the public REST API (docs: /api/docs/), so pages are not empty: the
   follower copies SteadyEddie with 250 USDT; SteadyEddie opens a BTC long (mirrored), an ETH
   position too small to copy at that share (a miss: "below minimum size"), and a SOL long that
   he closes after SOL rises (position history); BTC rises (unrealized PnL). Spot: AlphaWhale
   moves 3,000 into the lead spot account and buys BTC and ETH; the follower copies AlphaWhale's
   spot with 500 and Buy Existing Assets, then AlphaWhale buys SOL and sells half the ETH
   (mirrored: a holding added, a sell); SolSurfer buys SOL spot, so the wizard offers him in
   futures or spot. Notifications come from mirroring. (Through the public API, like any client,
   in the served process.)
4. Chromium (Playwright, Debian's /usr/bin/chromium) signs in through the login forms and saves
   each page full height. Animations are reduced; a page that answers >= 400 or logs a
   Content-Security-Policy violation or a console error fails the command.
5. The server stops and the folder is deleted (``--keep`` keeps it and prints where).

Playwright is imported only when the command runs (it is a dev dependency).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
WIDTHS = (1280, 390)
# seed_demo's logins (README.md)
FOLLOWER = ("follower@smartsync.local", "follower-demo-2026")
OPERATOR = ("operator@smartsync.local", "operator-demo-2026")
ALPHA = ("lead1@smartsync.local", "lead-demo-2026")
STEADY = ("lead2@smartsync.local", "lead-demo-2026")
SOL_SURFER = ("lead3@smartsync.local", "lead-demo-2026")

_RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class Command(BaseCommand):
    help = "Save every main page as PNG (1280 and 390 px) under docs/screenshots/."
    requires_system_checks: list = []

    def add_arguments(self, parser):
        parser.add_argument("--out", default=str(Path(settings.BASE_DIR) / "docs" / "screenshots"))
        parser.add_argument("--keep", action="store_true", help="keep the temporary database")
        parser.add_argument("--only", default="", help="comma-separated page names to shoot")

    def handle(self, *args, out: str, keep: bool, only: str, **options):
        if not os.path.exists(CHROMIUM):
            raise CommandError(f"make screenshots needs chromium at {CHROMIUM}")
        try:
            from playwright.sync_api import sync_playwright  # noqa: F401
        except ImportError as exc:
            raise CommandError(
                "make screenshots needs playwright (pip install -e '.[dev]')"
            ) from exc
        folder = Path(tempfile.mkdtemp(prefix="smartsync-screens-"))
        port = _free_port()
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
            "CELERY_BROKER_URL": "memory://",
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "PRICE_FEED": "off",
            "DEBUG": "0",
            "CACHE_URL": "locmemcache://",
        }
        server = None
        try:
            self._manage(env, "migrate", "--noinput")
            self._manage(env, "seed_demo")
            server = subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=open(folder / "server.log", "wb"),  # noqa: SIM115 (closed with the process)
                stderr=subprocess.STDOUT,
            )
            base = f"http://127.0.0.1:{port}"
            _wait_up(base, server)
            ids = _demo_activity(base)
            self._manage(env, "shell", "-c", _CANDLES)  # the demo's price moves, as beat would
            self.stdout.write(f"demo activity done: {ids}")
            wanted = {name for name in only.split(",") if name}
            saved = _shoot(base, Path(out), ids, wanted, self.stdout)
            self.stdout.write(self.style.SUCCESS(f"{len(saved)} screenshots in {out}"))
        finally:
            if server is not None:
                server.terminate()
                try:
                    server.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    server.kill()
            if keep:
                self.stdout.write(f"kept {folder}")
            else:
                shutil.rmtree(folder, ignore_errors=True)

    def _manage(self, env: dict, *argv: str) -> None:
        done = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise CommandError(f"manage.py {' '.join(argv)} failed:\n{done.stdout}\n{done.stderr}")


# the beat task's work, run once in the demo database's own process (a management shell line)
_CANDLES = "from apps.market.candles import candles_refresh; candles_refresh()"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(base: str, server: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise CommandError("the demo server exited; see its log (--keep)")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise CommandError("the demo server did not answer /healthz within a minute")


class _Api:
    """A signed-in REST client (token auth) for the demo activity."""

    def __init__(self, base: str, login: tuple[str, str]):
        self.base = f"{base}/api/v1/"
        email, password = login
        self.token = self.call("POST", "auth/token/", {"email": email, "password": password})[
            "token"
        ]

    def call(self, method: str, path: str, body: dict | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Token {self.token}"
        if method == "POST":
            headers["Idempotency-Key"] = uuid.uuid4().hex
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise CommandError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc


def _demo_activity(base: str) -> dict:
    follower, operator = _Api(base, FOLLOWER), _Api(base, OPERATOR)
    steady, alpha, sol_surfer = _Api(base, STEADY), _Api(base, ALPHA), _Api(base, SOL_SURFER)
    traders = {t["nickname"]: t["id"] for t in follower.call("GET", "traders/")["results"]}
    copy = follower.call(
        "POST",
        "copies/",
        {"trader": traders["SteadyEddie"], "market": "futures", "total_investment_usdt": "250"},
    )

    def open_(instrument, side, mode, leverage, margin):
        body = {
            "instrument": instrument,
            "side": side,
            "margin_mode": mode,
            "leverage": leverage,
            "margin_usdt": margin,
        }
        return steady.call("POST", "lead/positions/", body)

    # 250 of ~10,000 equity = 2.5%: 2,000 margin -> 50 (0.3 contract BTC at 3x)
    open_("BTC-USDT-SWAP", "long", "isolated", 3, "2000")
    # 3 margin -> 0.075: the minimum 0.01 contract needs 1.50, 20x the target: missed
    open_("ETH-USDT-SWAP", "long", "cross", 2, "3")
    sol = open_("SOL-USDT-SWAP", "long", "cross", 2, "1000")
    operator.call("POST", "operator/prices/", {"instrument": "SOL-USDT-SWAP", "price": "153"})
    steady.call("POST", f"lead/positions/{sol['id']}/close/", {"fraction": "1"})
    operator.call("POST", "operator/prices/", {"instrument": "BTC-USDT-SWAP", "price": "51200"})
    # spot (SPEC §6): AlphaWhale's spot book, copied with Buy Existing Assets, then a buy and a
    # sell mirrored; SolSurfer holds SOL, so he leads both markets
    spot_in = {"market": "spot", "direction": "in", "amount_usdt": "3000"}
    alpha.call("POST", "lead/transfer/", spot_in)
    for instrument, amount in (("BTC-USDT", "1000"), ("ETH-USDT", "600")):
        body = {"instrument": instrument, "side": "buy", "amount_usdt": amount}
        alpha.call("POST", "lead/spot/orders/", body)
    spot_copy = follower.call(
        "POST",
        "copies/",
        {
            "trader": traders["AlphaWhale"],
            "market": "spot",
            "total_investment_usdt": "500",
            "copy_ongoing_positions": True,
        },
    )
    alpha.call(
        "POST", "lead/spot/orders/", {"instrument": "SOL-USDT", "side": "buy", "amount_usdt": "300"}
    )
    operator.call("POST", "operator/prices/", {"instrument": "ETH-USDT", "price": "3090"})
    alpha.call(
        "POST", "lead/spot/orders/", {"instrument": "ETH-USDT", "side": "sell", "fraction": "0.5"}
    )
    operator.call("POST", "operator/prices/", {"instrument": "BTC-USDT", "price": "51200"})
    sol_surfer.call("POST", "lead/transfer/", {**spot_in, "amount_usdt": "2000"})
    sol_surfer.call(
        "POST", "lead/spot/orders/", {"instrument": "SOL-USDT", "side": "buy", "amount_usdt": "800"}
    )
    copies = {
        c["trader"]: c["id"]
        for c in follower.call("GET", "copies/")["results"]
        if c.get("market", "futures") == "futures"
    }
    return {
        "spot_copy": spot_copy["id"],
        "alpha": traders["AlphaWhale"],
        "steady": traders["SteadyEddie"],
        "sol_surfer": traders["SolSurfer"],
        "alpha_copy": copies[traders["AlphaWhale"]],
        "steady_copy": copy["id"],
    }


def _shots(ids: dict) -> list[tuple[str, str | None, str]]:
    """(name, who signs in: None = a visitor, the path or a wizard step)."""
    return [
        ("home", None, "/"),
        ("directory", "follower", "/traders/"),
        ("profile", "follower", f"/traders/{ids['alpha']}/"),
        ("wizard-1-investment", "follower", "wizard:investment"),
        ("wizard-2-stop-loss", "follower", "wizard:stop_loss"),
        ("wizard-3-review", "follower", "wizard:review"),
        ("my-copies", "follower", "/copies/"),
        ("copy-trade-details", "follower", f"/copies/{ids['steady_copy']}/"),
        ("settings", "follower", f"/copies/{ids['alpha_copy']}/settings/"),
        ("stop-confirmation", "follower", f"/copies/{ids['alpha_copy']}/stop/"),
        ("wallet", "follower", "/wallet/"),
        ("notifications", "follower", "/notifications/"),
        ("lead-console", "alpha", "/lead/"),
        ("admin-dashboard", "operator", "/admin/"),
        # spot (issue 10): the wizard for a lead of both markets, a spot copy, the console's spot
        ("wizard-spot-0-market", "follower", "wizard-spot:market"),
        ("wizard-spot-1-investment", "follower", "wizard-spot:investment"),
        ("wizard-spot-3-review", "follower", "wizard-spot:review"),
        ("copy-trade-details-spot", "follower", f"/copies/{ids['spot_copy']}/"),
        ("lead-console-spot", "alpha", "console-spot"),
        # the copy simulator on a profile ("what would I have made"), a lead's spot profile
        ("profile-simulation", "follower", f"/traders/{ids['alpha']}/?investment=1%2C000&days=30"),
        ("profile-spot", None, f"/traders/{ids['steady']}/?market=spot"),
    ]


_LOGINS = {"follower": FOLLOWER, "alpha": ALPHA, "operator": OPERATOR}


def _shoot(base: str, out: Path, ids: dict, wanted: set[str], stdout) -> list[Path]:
    from playwright.sync_api import expect, sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved: list[Path] = []
    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for width in WIDTHS:
            pages: dict[str | None, object] = {}
            for number, (name, who, target) in enumerate(_shots(ids), start=1):
                if wanted and name not in wanted:
                    continue
                page = pages.get(who) or _signed_in(browser, base, width, who, problems)
                pages[who] = page
                if target.startswith("wizard:"):
                    _wizard(page, ids, target.split(":", 1)[1], expect)
                elif target.startswith("wizard-spot:"):
                    _wizard_spot(page, ids, target.split(":", 1)[1], expect)
                elif target == "console-spot":
                    _console_spot(page, expect)
                else:
                    response = page.goto(target)
                    if response is None or response.status >= 400:
                        problems.append(f"{name} {width}: HTTP {response and response.status}")
                page.wait_for_load_state("networkidle")
                if name in ("copy-trade-details", "copy-trade-details-spot"):
                    page.get_by_text("Why this size").first.click()
                path = out / f"{number:02d}-{name}-{width}.png"
                if target == "console-spot":  # the spot section of the long console page
                    page.locator("#spot").screenshot(path=str(path), animations="disabled")
                else:
                    page.screenshot(path=str(path), full_page=True, animations="disabled")
                violations = page.evaluate("window.__csp || []")
                if violations:
                    problems.append(f"{name} {width}: CSP {violations}")
                saved.append(path)
                stdout.write(f"{path.name} ({path.stat().st_size // 1024} KB)")
            for page in pages.values():
                page.context.close()
        browser.close()
    if problems:
        raise CommandError("pages with problems:\n" + "\n".join(problems))
    return saved


def _signed_in(browser, base: str, width: int, who: str | None, problems: list[str]):
    context = browser.new_context(
        base_url=base, viewport={"width": width, "height": 900}, reduced_motion="reduce"
    )
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.add_init_script(_RECORD_VIOLATIONS)
    page.on(
        "console",
        lambda m: problems.append(f"{who} console: {m.text}") if m.type == "error" else None,
    )
    page.on("pageerror", lambda exc: problems.append(f"{who} uncaught: {exc}"))
    if who == "operator":
        page.goto("/admin/login/")
        page.get_by_label("E-mail address").fill(OPERATOR[0])
        page.get_by_label("Password").fill(OPERATOR[1])
        page.get_by_role("button", name="Log in").click()
    elif who is not None:
        email, password = _LOGINS[who]
        page.goto("/accounts/login/")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Sign In").click()
    page.wait_for_load_state("networkidle")
    return page


def _wizard(page, ids: dict, step: str, expect) -> None:
    """The copy wizard for SolSurfer (who holds an open SOL short): 300 USDT with Copy Ongoing
    Positions, then a 20% Total Stop Loss for Trader, then the review."""
    if step == "investment":
        page.goto(f"/copies/new/?trader={ids['sol_surfer']}&market=futures")
        page.get_by_role("textbox", name="Total Investment").fill("300")
        page.get_by_label("Copy Ongoing Positions").check()
        expect(page.locator("#ongoing-preview")).to_contain_text("What opens now")
    elif step == "stop_loss":
        page.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
        page.get_by_role("textbox", name="Total Stop Loss for Trader").fill("20")
        page.get_by_label("% of the Total Investment").check()
        expect(page.locator("#stop-loss-level")).to_contain_text("equity falls to")
    else:
        page.get_by_role("button", name="Next: Review").click()
        expect(page.get_by_text("moves from your main account")).to_be_visible()


def _wizard_spot(page, ids: dict, step: str, expect) -> None:
    """The copy wizard for SolSurfer in spot (he leads both markets and holds SOL): the market
    choice, 1,000 USDT with Buy Existing Assets and its preview, then the review."""
    if step == "market":
        page.goto(f"/copies/new/?trader={ids['sol_surfer']}")
        expect(page.get_by_role("heading", name="Futures or Spot")).to_be_visible()
    elif step == "investment":
        page.get_by_role("radio", name="Spot").check()
        page.get_by_role("button", name="Next: Total Investment").click()
        page.get_by_role("textbox", name="Total Investment").fill("1,000")
        page.get_by_label("Buy Existing Assets").check()
        expect(page.locator("#ongoing-preview")).to_contain_text("What is bought now")
        page.locator("#ongoing-preview").get_by_text("Why this size").first.click()
    else:
        page.get_by_role("button", name="Next: Total Stop Loss for Trader").click()
        page.get_by_role("button", name="Next: Review").click()
        expect(page.get_by_text("moves from your main account")).to_be_visible()


def _console_spot(page, expect) -> None:
    """AlphaWhale's console with a spot buy typed: the quote shows quantity and fee."""
    page.goto("/lead/")
    page.get_by_role("textbox", name="Amount to spend").fill("250")
    expect(page.locator("#spot-quote")).to_contain_text("Fee (on top)")
