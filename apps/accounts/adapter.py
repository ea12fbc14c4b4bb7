"""django-allauth adapter: failed web logins are limited per (account, IP) pair.

Invariants:
- allauth's ``login_failed`` rate limit has a per-IP part and a per-"key" part. Its stock key is
  the account alone, so anyone could lock the owner out of the web login by failing on purpose
  from anywhere. Here the key is the account *and* the client IP: a stranger exhausts only
  their own pair (and their IP's allowance), and the owner, from another address, still logs in.
- Counts live in the shared ``default`` cache (settings CACHES), so every server process sees
  the same ones. Rates: ACCOUNT_RATE_LIMITS["login_failed"] in settings.
- The client IP is allauth's (``get_client_ip``: REMOTE_ADDR, or X-Forwarded-For only behind
  ALLAUTH_TRUSTED_PROXY_COUNT trusted proxies), the same one its per-IP part uses.
"""

from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from django.http import HttpRequest


class AccountAdapter(DefaultAccountAdapter):
    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth hashes this key before it reaches the cache.
        account = super()._get_login_attempts_cache_key(request, **credentials)
        return f"{account}:{self.get_client_ip(request)}"
