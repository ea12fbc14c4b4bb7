"""Ledger admin lists: a constant number of queries however many rows (accounts, entries, postings,
and an entry's page with one posting per copy), filters and searches that find the right rows,
entries and postings listed without counting or scanning the whole table, and nothing editable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.ledger.models import Account, JournalEntry, Posting
from apps.ledger.services import account_main, deposit_credit, ledger_reverse
from tests.admin_lists import assert_constant_queries, world_grow
from tests.factories.accounts import StaffFactory
from tests.factories.ledger import user_make, user_with_main_balance

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(StaffFactory(is_superuser=True))
    return client


def test_ledger_lists_cost_the_same_queries_for_more_rows(
    operator, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    counts = assert_constant_queries(
        operator,
        {
            "accounts": "/admin/ledger/account/",
            "entries": "/admin/ledger/journalentry/",
            "postings": "/admin/ledger/posting/",
            "entries of a kind": "/admin/ledger/journalentry/?kind__exact=reversal",
            "postings of copies": "/admin/ledger/posting/?account__kind__exact=copy",
        },
        lambda: world_grow(8, capture=capture),
    )
    # reversal entries name the entry they reverse (the row's link text), read with the row
    assert counts["entries of a kind"][1] == 10


def _largest_entry() -> JournalEntry:
    return max(JournalEntry.objects.all(), key=lambda e: e.postings.count())


def test_an_entry_page_shows_every_posting_and_account_in_constant_queries(
    operator, django_capture_on_commit_callbacks
):
    # the mirror of a lead open books one entry with a posting per copy
    capture = django_capture_on_commit_callbacks
    world_grow(2, capture=capture)
    small = _largest_entry()
    world_grow(12, capture=capture)
    big = _largest_entry()
    assert big.postings.count() >= small.postings.count() + 10

    def cost(entry):
        operator.get(f"/admin/ledger/journalentry/{entry.pk}/change/")  # warm the caches
        with CaptureQueriesContext(connection) as ctx:
            page = operator.get(f"/admin/ledger/journalentry/{entry.pk}/change/")
        assert page.status_code == 200
        for posting in entry.postings.select_related("account"):
            assert posting.account.code in page.content.decode()
        return len(ctx.captured_queries)

    assert cost(big) == cost(small)


def test_account_filters_and_search(operator):
    # given: one user with 10 USDT, one with nothing
    rich = user_with_main_balance("10", email="rich@example.com")
    poor = user_make(email="poor@example.com")
    account_main(user=poor)

    def codes(**params):
        r = operator.get("/admin/ledger/account/", params)
        assert r.status_code == 200
        return {a.code for a in r.context["cl"].result_list}

    main_rich, main_poor = account_main(user=rich).code, account_main(user=poor).code
    holding = codes(balance="positive", kind__exact="main")
    assert main_rich in holding and main_poor not in holding
    assert main_poor in codes(balance="zero", kind__exact="main")
    # the external world paid the deposit: the only negative account here
    assert codes(balance="negative") == {Account.objects.get(kind=Account.Kind.EXTERNAL).code}
    assert codes(q="poor@example.com") == {main_poor}


def test_postings_filter_by_entry_kind_and_search_by_owner(operator):
    user = user_with_main_balance("10", email="owner@example.com")
    ledger_reverse(entry=deposit_credit(user=user, amount=Decimal("3")))
    main = account_main(user=user)

    def rows(**params):
        r = operator.get("/admin/ledger/posting/", params)
        assert r.status_code == 200
        return list(r.context["cl"].result_list)

    mine = rows(q="owner@example.com")
    assert sorted(p.amount for p in mine) == [Decimal("-3"), Decimal("3"), Decimal("10")]
    assert {p.account_id for p in mine} == {main.pk}
    reversal = rows(entry__kind__exact="reversal")
    assert sorted(p.amount for p in reversal) == [Decimal("-3"), Decimal("3")]
    page = operator.get("/admin/ledger/posting/", {"q": "owner@example.com"}).content.decode()
    assert "owner@example.com" in page and "Reversal" in page


def test_entries_and_postings_are_listed_without_scanning_the_table(operator, monkeypatch):
    from apps.core.admin_lists import CappedCountPaginator

    for n in range(4):
        user_with_main_balance("1", email=f"u{n}@example.com")
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    for url, words in (
        ("/admin/ledger/journalentry/", "More than 3 journal entries"),
        ("/admin/ledger/posting/", "More than 3 postings"),
    ):
        with CaptureQueriesContext(connection) as ctx:
            page = operator.get(url).content.decode()
        assert words in page
        sql = [q["sql"].upper() for q in ctx.captured_queries]
        assert not [q for q in sql if "DISTINCT" in q], url
        counts = [q for q in sql if "COUNT(" in q and "LEDGER_" in q]
        assert counts and all("LIMIT" in q for q in counts), counts
    # the entries' date hierarchy comes from MIN/MAX: today's entries, one link for today
    entry = JournalEntry.objects.first()
    year = entry.created_at.year
    page = operator.get("/admin/ledger/journalentry/").content.decode()
    assert f"created_at__year={year}" in page


def _ledger_state():
    return (
        list(Account.objects.values_list("pk", "balance")),
        list(Posting.objects.values_list("pk", "entry_id", "account_id", "amount")),
        list(JournalEntry.objects.values_list("pk", "kind", "memo")),
    )


@pytest.mark.parametrize("model", ["account", "journalentry", "posting"])
def test_nothing_in_the_ledger_admin_can_be_added_changed_or_deleted(operator, model):
    user_with_main_balance("10")
    obj = {"account": Account, "journalentry": JournalEntry, "posting": Posting}[
        model
    ].objects.first()
    before = _ledger_state()
    base = f"/admin/ledger/{model}/"
    assert operator.get(f"{base}add/").status_code == 403
    assert operator.post(f"{base}{obj.pk}/delete/", {"post": "yes"}).status_code == 403
    change = operator.post(
        f"{base}{obj.pk}/change/", {"balance": "999", "amount": "999", "memo": "edited"}
    )
    assert change.status_code == 403
    assert b'value="delete_selected"' not in operator.get(base).content
    assert _ledger_state() == before
