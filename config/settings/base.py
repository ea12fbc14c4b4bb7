"""Settings shared by every environment. Everything that differs comes from the environment."""

from decimal import Decimal
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.sites",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI assets served by us: no CDN at run time
    "django_htmx",
    "template_partials",
    "django_celery_beat",
    "allauth",
    "allauth.account",
    "csp",
    "apps.core",
    "apps.accounts",
    "apps.ledger",
    "apps.market",
    "apps.positions",
    "apps.traders",
    "apps.copies",
    "apps.fees",
    "apps.stats",
    "apps.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.accounts.context_processors.nav",
                "apps.traders.context_processors.nav_lead",
            ],
            "builtins": ["apps.core.templatetags.money"],
        },
    }
]

# --- Database -------------------------------------------------------------------------------
# Default: a SQLite file in the project folder, tuned so that the web server, the worker and
# beat can share it (WAL, busy timeout, IMMEDIATE transactions so writers queue instead of
# failing with "database is locked" on lock upgrade).
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "transaction_mode": "IMMEDIATE",
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;"
            ),
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Connections are bounded per process. DB_POOL_SIZE > 0 (the runner sets it for the web
    # server to its thread count) gives each process a psycopg pool of at most that many
    # connections, closing idle ones after a minute; threads beyond it wait up to 10 s. Without
    # a pool a connection lives for one request or task (CONN_MAX_AGE=0): a long-lived value
    # leaks one connection per short-lived thread (runserver), which exhausted max_connections.
    DB_POOL_SIZE = env.int("DB_POOL_SIZE", default=0)
    if DB_POOL_SIZE > 0:
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them; Django requires 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DB_POOL_SIZE,
            "timeout": 10,
            "max_idle": 60,
        }
    else:
        DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=0))
        DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"
SITE_ID = 1

# --- django-allauth: e-mail login; verification optional unless ACCOUNT_EMAIL_VERIFICATION=mandatory
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_EMAIL_VERIFICATION = env("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_LOGOUT_ON_GET = False
# Failed web logins (counted in the shared cache, see CACHES): 10 a minute per IP, and 5 per
# 5 minutes per (account, IP) pair, never per account alone, so a stranger guessing from their
# address cannot lock the owner out (apps/accounts/adapter.py keys "login_failed" by the pair).
ACCOUNT_ADAPTER = "apps.accounts.adapter.AccountAdapter"
ACCOUNT_RATE_LIMITS = {"login_failed": "10/m/ip,5/5m/key"}
# Proxies in front of the app that append to X-Forwarded-For (0: use REMOTE_ADDR, ignore the
# header, which a client could forge to dodge per-IP limits). Used by DRF and allauth alike.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Smart Sync <no-reply@smartsync.local>")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Cache: shared by every process -----------------------------------------------------------
# Throttle and failed-login counts live here, so it must never be per-process memory (N server
# processes would multiply every limit): Redis when CACHE_URL or CELERY_BROKER_URL is a redis://
# URL, another CACHE_URL as given, else the database cache (table made by core's migration 0001).
CACHE_TABLE = "smartsync_cache"
_cache_url = env("CACHE_URL", default="")
_redis_url = next(
    (u for u in (_cache_url, env("CELERY_BROKER_URL", default="")) if u.startswith("redis")), ""
)
if _redis_url:
    CACHES = {
        "default": {
            # Redis down: answered from per-process memory, never a 500 (apps/core/cache.py)
            "BACKEND": "apps.core.cache.ResilientRedisCache",
            "LOCATION": _redis_url,
            "KEY_PREFIX": "smartsync",
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
elif _cache_url:
    CACHES = {"default": env.cache_url("CACHE_URL")}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": CACHE_TABLE,
        }
    }

# --- REST API -------------------------------------------------------------------------------
# TokenAuthentication first: an anonymous call then answers 401 with `WWW-Authenticate: Token`
# (DRF takes the header from the first class). Browser pages still authenticate by session.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.api.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "apps.core.api.exception_handler",
    "COERCE_DECIMAL_TO_STRING": True,
    # apps/core/throttling.py: "N/P", P = [count]s|m|h|d. register and token count every
    # request per IP; token_account counts failed token requests per e-mail address.
    "DEFAULT_THROTTLE_RATES": {
        "register": "20/h",
        "token": "30/m",
        "token_account": "10/15m",
        "simulate": "30/m",  # GET traders/{id}/simulate/ and the profile's simulator, per IP
    },
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Smart Sync copy trading API",
    "DESCRIPTION": "Money and quantities are decimal strings. Errors: {detail, code, fields}.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Content-Security-Policy (django-csp 4) ---------------------------------------------------
# Scripts and styles only from our own files: no inline <script>, no style="" / <style>, no eval
# (so no htmx hx-on or trigger filters; behaviour goes in static/js/app.js, see base.html).
# data: images are Swagger UI's CSS icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- Celery ---------------------------------------------------------------------------------
# Default broker: the embedded one (apps/core/broker.py), an SQLite file beside the SQLite
# database (db.sqlite3 -> db.sqlite3-broker; on PostgreSQL .broker/<name>.sqlite3), so
# `make run` needs no server and another database never shares a queue. Transactional: a
# worker never reads a half-written message. CELERY_BROKER_URL=redis://... for production.
_db_name = str(DATABASES["default"].get("NAME") or "")
_db_sqlite = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
if _db_sqlite and _db_name and ":memory:" not in _db_name and "mode=memory" not in _db_name:
    _embedded_broker = f"sqlite:///{Path(_db_name).resolve()}-broker"
else:  # PostgreSQL, or SQLite in memory
    _embedded_broker = (
        f"sqlite:///{BASE_DIR / '.broker' / ('memory' if _db_sqlite else _db_name)}.sqlite3"
    )
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or _embedded_broker
if CELERY_BROKER_URL.startswith("sqlite://"):
    CELERY_BROKER_TRANSPORT = "apps.core.broker:Transport"
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 120
CELERY_TASK_TIME_LIMIT = 180
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    # the risk pass must not queue behind a big mirroring fan-out
    "apps.copies.tasks.risk_pass_instruments": {"queue": "prices"},
    "apps.copies.tasks.risk_sweep": {"queue": "prices"},
    "apps.copies.tasks.*": {"queue": "mirroring"},
    "apps.market.tasks.*": {"queue": "prices"},
    "apps.fees.tasks.*": {"queue": "settlement"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Product settings (SPEC §4-5) -----------------------------------------------------------
PRICE_FEED = env("PRICE_FEED", default="off")  # "simulated" | "off"
PRICE_FEED_SEED = env.int("PRICE_FEED_SEED", default=42)
PRICE_FEED_INTERVAL_S = env.int("PRICE_FEED_INTERVAL_S", default=5)
# raw ticks older than this are pruned once a 1-minute candle holds them (apps/market/candles.py)
MARKET_TICK_RETENTION_HOURS = env.int("MARKET_TICK_RETENTION_HOURS", default=48)
VENUE_SLIPPAGE = Decimal(env("VENUE_SLIPPAGE", default="0"))
SMART_SYNC = {
    "SLIPPAGE_TOLERANCE": Decimal(env("SMART_SYNC_SLIPPAGE_TOLERANCE", default="0.005")),
    "BUMP_CAP": Decimal(env("SMART_SYNC_BUMP_CAP", default="10")),
    "MARGIN_LEVEL_SKIP": Decimal(env("SMART_SYNC_MARGIN_LEVEL_SKIP", default="10")),  # 1,000%
    "MIN_INVESTMENT": Decimal(env("SMART_SYNC_MIN_INVESTMENT", default="100")),
    "MAX_ACTIVE_COPIES": env.int("SMART_SYNC_MAX_ACTIVE_COPIES", default=20),
    "DEFAULT_MAX_COPIERS": env.int("SMART_SYNC_DEFAULT_MAX_COPIERS", default=1000),
    "MIRROR_CHUNK_SIZE": env.int("SMART_SYNC_MIRROR_CHUNK_SIZE", default=1000),
    "SWEEP_AFTER_S": env.int("SMART_SYNC_SWEEP_AFTER_S", default=15),
    # a lead event whose mirroring crashed this many times is marked failed (no longer blocks)
    "EVENT_MAX_ATTEMPTS": env.int("SMART_SYNC_EVENT_MAX_ATTEMPTS", default=5),
    # beat's backstop of the risk pass that every price change runs (seconds)
    "RISK_SWEEP_S": env.int("SMART_SYNC_RISK_SWEEP_S", default=5),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
