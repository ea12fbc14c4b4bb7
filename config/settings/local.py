"""`make run`: a developer's machine. SQLite and the embedded broker unless told otherwise.

DEBUG is off unless DEBUG=1: a visitor sees the product's own 404 and 500 pages, not Django's
debug page with every URL pattern. Static files are served by whitenoise straight from the
finders (static/ and the apps), so `make run` needs no collectstatic step and never serves a
stale copy; production runs collectstatic instead.
"""

import warnings

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=False)
PRICE_FEED = env("PRICE_FEED", default="simulated")
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG  # with DEBUG=1 an edited CSS/JS file is served without a restart
# STATIC_ROOT (staticfiles/) only exists after collectstatic; the finders serve without it.
warnings.filterwarnings("ignore", message="No directory at: .*staticfiles")
