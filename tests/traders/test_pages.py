from apps.traders.models import LeadTrader


def test_home_shows_prices_and_lead_traders(client, seeded):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "BTC-USDT-SWAP" in html and "50,000.00" in html
    assert "AlphaWhale" in html and "SteadyEddie" in html and "SolSurfer" in html
    alpha = LeadTrader.objects.get(nickname="AlphaWhale")
    assert f'href="/traders/{alpha.pk}/"' in html
    assert "1 / 1,000" in html  # copiers now / max


def test_home_without_lead_traders_hides_the_board(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert "Lead traders</h2>" not in response.content.decode()


def test_trader_profile_shows_the_open_position(client, seeded):
    alpha = LeadTrader.objects.get(nickname="AlphaWhale")
    response = client.get(f"/traders/{alpha.pk}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "AlphaWhale" in html and alpha.bio in html
    assert "BTC-USDT-SWAP" in html and "Long" in html and "5x" in html and "Cross" in html
    assert "10.00" in html  # contracts
    assert "50,000.00" in html and "1,000.00" in html  # entry price, margin
    assert "10%" in html
    # a visitor is offered Copy, and no roadmap words
    assert ">Copy</a>" in html and "arrives" not in html


def test_a_lead_sees_no_copy_button_on_their_own_profile(client, seeded):
    alpha = LeadTrader.objects.get(nickname="AlphaWhale")
    client.force_login(alpha.user)
    html = client.get(f"/traders/{alpha.pk}/").content.decode()
    assert ">Copy</a>" not in html
    assert "This is your own profile" in html


def test_a_full_trader_cannot_be_copied(client, seeded):
    alpha = LeadTrader.objects.get(nickname="AlphaWhale")
    LeadTrader.objects.filter(pk=alpha.pk).update(max_copiers=1)  # the demo follower copies
    html = client.get(f"/traders/{alpha.pk}/").content.decode()
    assert ">Copy</a>" not in html and "Full: 1 of 1 copiers" in html


def test_the_directory_title_names_the_page_once(client, seeded):
    html = client.get("/traders/").content.decode()
    assert "<title>Lead traders · Smart Sync</title>" in html


def test_trader_profile_of_an_isolated_short(client, seeded):
    sol = LeadTrader.objects.get(nickname="SolSurfer")
    html = client.get(f"/traders/{sol.pk}/").content.decode()
    assert "SOL-USDT-SWAP" in html and "Short" in html and "Isolated" in html and "3x" in html


def test_unknown_trader_is_404(client, db):
    assert client.get("/traders/999999/").status_code == 404


def test_trader_profile_colours_unrealized_pnl_by_sign(client, seeded):
    from decimal import Decimal

    from apps.market.services import price_set

    # AlphaWhale is long 10 contracts (0.1 BTC) from 50,000; SolSurfer short 10 SOL from 150
    price_set(instrument="BTC-USDT-SWAP", price=Decimal("50850"))
    price_set(instrument="SOL-USDT-SWAP", price=Decimal("160"))
    alpha = LeadTrader.objects.get(nickname="AlphaWhale")
    sol = LeadTrader.objects.get(nickname="SolSurfer")
    # colour and sign both carry the meaning
    alpha_html = client.get(f"/traders/{alpha.pk}/").content.decode()
    sol_html = client.get(f"/traders/{sol.pk}/").content.decode()
    assert '<td class="num pos" data-label="uPnL (USDT)">+85.00</td>' in alpha_html
    assert '<td class="num neg" data-label="uPnL (USDT)">-100.00</td>' in sol_html


def test_trader_directory_lists_active_first_and_ended_with_a_badge(client, seeded):
    # given one ended lead trader
    from apps.traders.services import lead_trader_end

    steady = LeadTrader.objects.get(nickname="SteadyEddie")
    lead_trader_end(lead=steady)
    # when anyone opens the directory
    response = client.get("/traders/")
    # then every trader is there, the ended one last and marked
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("AlphaWhale") < html.index("SolSurfer") < html.index("SteadyEddie")
    assert "Ended</span>" in html
    assert "3 lead traders" in html
