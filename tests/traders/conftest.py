from io import StringIO

import pytest
from django.core.management import call_command


@pytest.fixture
def seeded(db):
    """The demo data of ``manage.py seed_demo`` without its history (mirroring done
    synchronously by the command); tests/traders/test_seed_demo.py tests the history."""
    call_command("seed_demo", "--days", "0", stdout=StringIO())
