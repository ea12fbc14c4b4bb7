import pytest

from tests.factories.trading import set_price


@pytest.fixture
def btc(db):
    set_price("BTC-USDT-SWAP", "50000")
    return "BTC-USDT-SWAP"


@pytest.fixture
def mirror(django_capture_on_commit_callbacks):
    """Run a lead action and the mirroring it triggers on commit (Celery is eager in tests)."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run
