"""`make run`: a developer's machine. SQLite and the filesystem broker unless told otherwise."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
PRICE_FEED = env("PRICE_FEED", default="simulated")
