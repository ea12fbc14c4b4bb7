"""The project as a whole: settings load, every model change has its migration, Django's
system checks pass, and the production settings pass ``check --deploy``."""

import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_every_model_change_has_a_migration():
    # makemigrations --check exits non-zero (SystemExit) when a model differs from migrations
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_system_checks_pass():
    call_command("check", fail_level="WARNING")


@pytest.mark.parametrize("settings_module", ["config.settings.production"])
def test_production_settings_pass_the_deploy_checks(settings_module):
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "SECRET_KEY": "x" * 64 + "-not-a-real-secret-but-long-and-random-enough-for-the-check",
        "ALLOWED_HOSTS": "smartsync.example",
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
        "DATABASE_URL": "sqlite:////tmp/smoke-deploy-check.sqlite3",
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
