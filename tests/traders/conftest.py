from io import StringIO

import pytest
from django.core.management import call_command


@pytest.fixture
def seeded(db):
    """The demo data of ``manage.py seed_demo`` (mirroring done synchronously by the command)."""
    call_command("seed_demo", stdout=StringIO())
