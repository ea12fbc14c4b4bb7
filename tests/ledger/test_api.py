from decimal import Decimal

import pytest
from django.urls import reverse

from apps.ledger.management.commands.ledger_audit import ledger_drift
from apps.ledger.models import Account, JournalEntry
from apps.ledger.services import account_create, account_main, ledger_post
from tests.factories.ledger import user_make, user_with_main_balance

pytestmark = pytest.mark.django_db

WALLET = reverse("api:wallet")
DEPOSITS = reverse("api:operator-deposit")
WITHDRAWALS = reverse("api:operator-withdrawal")


@pytest.fixture
def staff_client(api_client):
    api_client.force_authenticate(user_make(is_staff=True))
    return api_client


def _main_balance(user) -> Decimal:
    return Account.objects.get(code=f"main:{user.pk}").balance


# --- wallet --------------------------------------------------------------------------------


def test_wallet_returns_decimal_strings_with_8_places(api_client):
    # given: 100.5 deposited, 40 moved into a copy
    user = user_with_main_balance("100.5")
    copy = account_create(kind="copy", owner=user, code="copy:1")
    ledger_post(
        key="fund",
        kind="copy_funding",
        postings=[(account_main(user=user), Decimal("-40")), (copy, Decimal("40"))],
    )
    api_client.force_authenticate(user)
    # when
    response = api_client.get(WALLET)
    # then
    assert response.status_code == 200
    assert response.json() == {
        "balance_usdt": "60.50000000",
        "available_usdt": "60.50000000",
        "in_copies_usdt": "40.00000000",
        "in_lead_accounts_usdt": "0.00000000",
    }


def test_wallet_requires_authentication(api_client):
    response = api_client.get(WALLET)
    assert response.status_code in (401, 403)
    assert response.json()["detail"]


# --- deposits ------------------------------------------------------------------------------


def test_operator_deposit_credits_main(staff_client):
    # given
    user = user_make(email="alice@example.com")
    # when: e-mail in another case, amount as a string
    response = staff_client.post(
        DEPOSITS, {"email": "Alice@Example.com", "amount_usdt": "250.12345678"}, format="json"
    )
    # then
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["email"] == "alice@example.com"
    assert body["amount_usdt"] == "250.12345678"
    assert body["balance_usdt"] == "250.12345678"
    assert body["kind"] == "deposit"
    assert JournalEntry.objects.get(pk=body["id"]).kind == "deposit"
    assert _main_balance(user) == Decimal("250.12345678")


def test_operator_deposit_accepts_numbers(staff_client):
    user = user_make()
    response = staff_client.post(DEPOSITS, {"email": user.email, "amount_usdt": 12}, format="json")
    assert response.status_code == 201
    assert response.json()["balance_usdt"] == "12.00000000"


def test_operator_deposit_with_idempotency_key_moves_money_once(staff_client):
    # given
    user = user_make()
    body = {"email": user.email, "amount_usdt": "10", "idempotency_key": "wire-42"}
    # when: the same request twice, then the key with another amount
    first = staff_client.post(DEPOSITS, body, format="json")
    second = staff_client.post(DEPOSITS, body, format="json")
    conflict = staff_client.post(DEPOSITS, {**body, "amount_usdt": "11"}, format="json")
    # then
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert conflict.status_code == 409
    assert conflict.json()["code"] == "idempotency_conflict"
    assert _main_balance(user) == Decimal("10")


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"amount_usdt": "0"}, "amount_usdt", "greater than zero"),
        ({"amount_usdt": "-5"}, "amount_usdt", "greater than zero"),
        ({"amount_usdt": "abc"}, "amount_usdt", "valid number"),
        ({"amount_usdt": "1.000000001"}, "amount_usdt", "8 decimal places"),
        ({"amount_usdt": "NaN"}, "amount_usdt", "valid number"),
        ({"amount_usdt": "Infinity"}, "amount_usdt", "valid number"),
        ({"amount_usdt": "1e40"}, "amount_usdt", "digits"),
        ({"amount_usdt": True}, "amount_usdt", "valid number"),
        ({"amount_usdt": None}, "amount_usdt", "null"),
        ({"amount_usdt": ""}, "amount_usdt", "valid number"),
        ({}, "amount_usdt", "required"),
        ({"amount_usdt": "5", "email": "not-an-email"}, "email", "valid email"),
        ({"amount_usdt": "5", "email": "nobody@example.com"}, "email", "No user"),
        ({"amount_usdt": "5", "idempotency_key": ""}, "idempotency_key", "blank"),
    ],
)
@pytest.mark.parametrize("url", [DEPOSITS, WITHDRAWALS])
def test_operator_movement_bad_input_is_400_and_changes_nothing(
    staff_client, url, body, field, message
):
    # given: a user with 100
    user = user_with_main_balance("100", email="bob@example.com")
    entries_before = JournalEntry.objects.count()
    # when
    response = staff_client.post(url, {"email": user.email, **body}, format="json")
    # then
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["code"] and data["detail"]
    assert message.lower() in data["fields"][field].lower()
    assert JournalEntry.objects.count() == entries_before
    assert _main_balance(user) == Decimal("100")


@pytest.mark.parametrize("url", [DEPOSITS, WITHDRAWALS])
def test_operator_movement_malformed_json_is_400(staff_client, url):
    response = staff_client.post(url, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["detail"]


@pytest.mark.parametrize("url", [DEPOSITS, WITHDRAWALS])
def test_operator_endpoints_are_staff_only(api_client, url):
    # given: a plain user (and an anonymous client)
    user = user_with_main_balance("100")
    anonymous = api_client.post(url, {"email": user.email, "amount_usdt": "5"}, format="json")
    api_client.force_authenticate(user)
    # when
    response = api_client.post(url, {"email": user.email, "amount_usdt": "5"}, format="json")
    # then
    assert anonymous.status_code in (401, 403)
    assert response.status_code == 403
    assert response.json()["code"]
    assert _main_balance(user) == Decimal("100")


# --- withdrawals ---------------------------------------------------------------------------


def test_operator_withdrawal_debits_main_down_to_the_last_unit(staff_client):
    # given: 100 in main
    user = user_with_main_balance("100")
    # when: all but one hundred-millionth is withdrawn
    response = staff_client.post(
        WITHDRAWALS, {"email": user.email, "amount_usdt": "99.99999999"}, format="json"
    )
    # then
    assert response.status_code == 201, response.json()
    assert response.json()["balance_usdt"] == "0.00000001"
    assert response.json()["kind"] == "withdrawal"
    assert _main_balance(user) == Decimal("0.00000001")
    assert ledger_drift()[2] == []


def test_operator_withdrawal_larger_than_balance_is_refused(staff_client):
    # given: 100 in main and 50 in a copy (not withdrawable)
    user = user_with_main_balance("150")
    copy = account_create(kind="copy", owner=user, code="copy:9")
    ledger_post(
        key="fund",
        kind="copy_funding",
        postings=[(account_main(user=user), Decimal("-50")), (copy, Decimal("50"))],
    )
    # when
    response = staff_client.post(
        WITHDRAWALS, {"email": user.email, "amount_usdt": "100.00000001"}, format="json"
    )
    # then
    assert response.status_code == 400
    assert response.json()["code"] == "insufficient_funds"
    assert "balance 100.00 USDT" in response.json()["detail"]
    assert _main_balance(user) == Decimal("100")


def test_openapi_schema_documents_the_ledger_endpoints(api_client):
    response = api_client.get(reverse("api-schema"), {"format": "json"})
    assert response.status_code == 200
    paths = response.json()["paths"]
    deposit = paths["/api/v1/operator/deposits/"]["post"]
    assert {"201", "400", "403"} <= set(deposit["responses"])
    assert "requestBody" in deposit
    assert "200" in paths["/api/v1/wallet/"]["get"]["responses"]
    assert "/api/v1/operator/withdrawals/" in paths
