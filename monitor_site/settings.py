"""One settings module, driven by the environment (see .env.example for every variable).

With no environment at all it runs the embedded demo: SQLite, tasks run eagerly in-process, e-mail to
the console. Production sets DATABASE_URL (PostgreSQL), CELERY_BROKER_URL (Redis) and EMAIL_URL.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from monitor_site import celery_schedule, security_headers
from scoring.artifact import DEFAULT_MODEL_STORE

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

DEBUG = env.bool("DJANGO_DEBUG", default=False)
# Only the demo (DEBUG on) runs without a key and hosts of its own: with DEBUG off start-up stops.
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=[])
_unset = [n for n, v in (("DJANGO_SECRET_KEY", SECRET_KEY), ("DJANGO_ALLOWED_HOSTS", ALLOWED_HOSTS)) if not v]
if DEBUG:
    SECRET_KEY = SECRET_KEY or "insecure-demo-key-only-ever-used-with-DJANGO_DEBUG"
    ALLOWED_HOSTS = ALLOWED_HOSTS or ["127.0.0.1", "localhost", "testserver"]
elif _unset:
    raise ImproperlyConfigured(
        f"DJANGO_DEBUG is off, so set {' and '.join(_unset)} (see .env.example; a key: python -c "
        "'import secrets; print(secrets.token_urlsafe(50))'), or DJANGO_DEBUG=1 for the local demo."
    )
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_celery_beat",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "axes",
    "monitor_site.accounts",
    "monitor_site.patients",
    "monitor_site.predictions",
    "monitor_site.modelops",
    "monitor_site.alerts",
    "monitor_site.audit",
    "monitor_site.dashboards",
    "monitor_site.api",
    "monitor_site.bench",
    "monitor_site.demo",
]

MIDDLEWARE = [
    "monitor_site.middleware.ApiJsonErrorsMiddleware",  # first: /api/ answers JSON, Django's own errors too
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "monitor_site.middleware.RejectNulInQueryMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "monitor_site.accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "monitor_site.accounts.middleware.SessionLifetimeMiddleware",
    "monitor_site.middleware.NoStoreMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lock-out into the locked-out page
]

ROOT_URLCONF = "monitor_site.urls"
WSGI_APPLICATION = "monitor_site.wsgi.application"
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
            ]
        },
    }
]

# Shared counters (ingestion rate limits, log-in throttles): Redis in production, so that every web process
# counts together (redis://127.0.0.1:6379/2); the demo's single process keeps them in memory.
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://")}
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'demo.sqlite3'}")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # JIT pays off for analytics, not page queries: past jit_above_cost it adds ~40 ms per list query.
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
elif DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The demo: pages read while the seeder and the scorer write. WAL lets readers go on during a write;
    # a writer waits up to 20 s for the lock instead of failing with "database is locked"; IMMEDIATE
    # takes the write lock at BEGIN, so a read-then-write transaction never deadlocks on an upgrade.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # counts failures and refuses locked-out log-ins first
    "django.contrib.auth.backends.ModelBackend",
]
# Login throttling (django-axes): after AXES_FAILURE_LIMIT failures for one username from one address,
# that pair is locked for AXES_COOLOFF_TIME hours (admins unlock in the admin: Sign-in lockouts).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "monitor_site.accounts.throttle.client_ip"
AXES_WHITELIST_CALLABLE = "monitor_site.accounts.throttle.axes_whitelisted"  # a known browser
# Behind a proxy: the header with the client's address (X-Forwarded-For) and how many proxies of ours
# append to it (that entry from the right is the client); empty: REMOTE_ADDR. accounts/throttle.py.
TRUSTED_PROXY_IP_HEADER = env("TRUSTED_PROXY_IP_HEADER", default="")
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=1)
# Against password spraying (monitor_site/accounts/throttle.py): an address failing this often across
# usernames within the window is refused; a username failing this often from anywhere is slowed to one
# attempt per LOGIN_USERNAME_DELAY_SECONDS. Never locked: the password with an authenticator code
# passes at once, and so does a browser that signed in as that user before (a signed device cookie,
# kept LOGIN_DEVICE_DAYS, not honoured after LOGIN_DEVICE_FAILURE_LIMIT failures within the window).
LOGIN_THROTTLE_MINUTES = env.int("LOGIN_THROTTLE_MINUTES", default=15)
LOGIN_IP_FAILURE_LIMIT = env.int("LOGIN_IP_FAILURE_LIMIT", default=30)
LOGIN_USERNAME_SLOWDOWN_AFTER = env.int("LOGIN_USERNAME_SLOWDOWN_AFTER", default=10)
LOGIN_USERNAME_DELAY_SECONDS = env.int("LOGIN_USERNAME_DELAY_SECONDS", default=5)
LOGIN_DEVICE_DAYS = env.int("LOGIN_DEVICE_DAYS", default=90)
LOGIN_DEVICE_FAILURE_LIMIT = env.int("LOGIN_DEVICE_FAILURE_LIMIT", default=5)
# Signed out after this long without a request, and this long after signing in whatever the activity.
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 3600
# Two-factor authentication (django-otp, TOTP authenticator apps). With TWO_FACTOR_REQUIRED every
# signed-in person (clinicians and admins) must set up and use an authenticator app.
TWO_FACTOR_REQUIRED = env.bool("TWO_FACTOR_REQUIRED", default=False)
# Staff and superusers (the admin) need one whenever DEBUG is off; `check --deploy` errs when turned off.
TWO_FACTOR_REQUIRED_FOR_STAFF = env.bool("TWO_FACTOR_REQUIRED_FOR_STAFF", default=not DEBUG)
OTP_ADMIN_HIDE_SENSITIVE_DATA = True  # no TOTP key, URI or QR code in the admin (accounts/admin.py)
OTP_TOTP_ISSUER = env("OTP_TOTP_ISSUER", default="PHQ-9 monitor")
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboards:patient_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-gb"
TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "var" / "staticfiles")
# plotly.js: the cartesian bundle in static/vendor/plotly, pinned to the version the Python plotly
# package draws with (no CDN). collectstatic (deploy, `make demo`) writes content-hashed names with gzip
# (and brotli) copies that whitenoise serves compressed and cacheable for a year (static_storage.py);
# before it has run (tests) pages use the plain names, served from the finders.
WHITENOISE_USE_FINDERS = True
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "monitor_site.static_storage.HashedCompressedStaticFilesStorage"},
}

# E-mail: console in the demo, SMTP (EMAIL_URL=smtp+tls://user:pass@host:587) in production.
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="phq9-monitor@localhost")
# Links in alert e-mails point here.
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")
# FHIR exports: <base>/sources/<source>/patients identifies a patient; model estimates in this code system.
FHIR_IDENTIFIER_SYSTEM_BASE = env("FHIR_IDENTIFIER_SYSTEM_BASE", default=SITE_URL)
FHIR_MODEL_CODE_SYSTEM = env(
    "FHIR_MODEL_CODE_SYSTEM", default=f"{SITE_URL.rstrip('/')}/fhir/CodeSystem/phq9-model-estimate"
)
ALERT_RETRY_MINUTES = env.int("ALERT_RETRY_MINUTES", default=5)  # a refused e-mail is retried after this
# An alert opened more than this after its crossing says it comes from delayed data (backlog, backfill,
# late questionnaire); it opens all the same: alerts follow the current state. 0 = never said.
ALERT_MAX_AGE_HOURS = env.int("ALERT_MAX_AGE_HOURS", default=72)
# A session more than this many days before the patient's first stored one is refused (400): it would
# move the baseline. A new patient's history can be sent in any amount, oldest first.
SESSION_BACKDATE_LIMIT_DAYS = env.int("SESSION_BACKDATE_LIMIT_DAYS", default=30)
# No session, message or questionnaire time before this date (monitor_site/patients/timestamps.py).
INGEST_EARLIEST_DATE = date.fromisoformat(env("INGEST_EARLIEST_DATE", default="2000-01-01"))
# alerts_housekeeping evaluates again the patients whose predictions changed within this many minutes,
# in case the evaluate_alerts task a scoring task enqueued was lost.
ALERT_EVALUATION_CATCH_UP_MINUTES = env.int("ALERT_EVALUATION_CATCH_UP_MINUTES", default=30)
# A prediction whose window held fewer tokens of patient text than this opens no alert ("too little text").
ALERT_MIN_WINDOW_TOKENS = env.int("ALERT_MIN_WINDOW_TOKENS", default=20)
# An alert whose condition ended (back under its line) and that nobody acknowledged closes itself after
# this many days without a new crossing, saying so in its history. 14: one whole PHQ-9 window ("the
# last 2 weeks") scored after the first window back under the line, so the close rests on a fresh
# window rather than the tail of the crossing one. Urgent and item-9 alerts never close by themselves.
# 0 = never close automatically.
ALERT_CLOSE_AFTER_QUIET_DAYS = env.int("ALERT_CLOSE_AFTER_QUIET_DAYS", default=14)
# The caseload overview counts a patient as overdue after this many days without a session.
CASELOAD_OVERDUE_DAYS = env.int("CASELOAD_OVERDUE_DAYS", default=7)

# Celery: Redis broker; "gpu" queue for scoring and training, "default" for the rest.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="redis://127.0.0.1:6379/0")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# The demo has no worker (tasks run eagerly): a training run then goes to a background thread of the web
# process, so "Retrain now" answers at once and the run page follows it. Production: the gpu queue.
TRAINING_IN_BACKGROUND_THREAD = env.bool("TRAINING_IN_BACKGROUND_THREAD", default=CELERY_TASK_ALWAYS_EAGER)
CELERY_TASK_EAGER_PROPAGATES = True
# Eager mode only (the demo): a scoring task that failed inside a request is caught up this much later.
EAGER_CATCH_UP_SECONDS = env.float("EAGER_CATCH_UP_SECONDS", default=5.0)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = celery_schedule.TASK_ROUTES  # which queue each task goes to
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BEAT_SCHEDULE = celery_schedule.BEAT_SCHEDULE  # the tasks run on a timer, and when

# Models and scoring
MODEL_STORE_DIR = env.path("MODEL_STORE_DIR", default=DEFAULT_MODEL_STORE)  # var/models in the repository
SCORING_DEVICE = env("SCORING_DEVICE", default="auto")  # auto | cpu | cuda | cuda:1
SCORING_BATCH_TOKENS = env.int("SCORING_BATCH_TOKENS", default=16384)
# fp32 | int8: on CPU, int8 runs the backbone's Linear layers dynamically quantised (scoring/quantize.py);
# ignored on CUDA. The default follows docs/benchmarks.md (speed and cross-source AUC at int8 vs fp32).
SCORING_PRECISION = env("SCORING_PRECISION", default="fp32")
SCORING_BATCH_WINDOWS = env.int("SCORING_BATCH_WINDOWS", default=64)

SCORING_RESCORE_DAYS = env.int("SCORING_RESCORE_DAYS", default=28)  # history rescored after a promotion

# Training and the learning loop (issue: Claude pseudo-labels, re-labelling, gated promotion).
# TRAINING_<FIELD> fills the field of that name of TrainArgs or LoopConfig (training/args.py), and
# PSEUDO_LABEL_<FIELD> one of LabelerConfig (training/labelling/claude.py). Their defaults live in those
# dataclasses and nowhere else: each variable below is a setting only when the environment sets it (as
# text), and monitor_site/modelops/training_settings.py types it by its field and falls back to the
# field's default (`training_setting("TRAINING_EPOCHS")` is the value in effect). The dataclasses' help
# texts and docs/deploying.md say what each one does.
TRAINING_FIELD_VARIABLES = (
    "TRAINING_BACKBONE",
    "TRAINING_MODE",  # heads | lora | full
    "TRAINING_MEMBERS",
    "TRAINING_LEXICAL",  # the TF-IDF member beside them
    "TRAINING_EPOCHS",
    "TRAINING_RELABEL_ROUNDS",
    "TRAINING_RELABEL_BLEND",
    "TRAINING_PSEUDO_WEIGHT",
    "TRAINING_RELABEL_FOLDS",
    # Without an Anthropic key: train on questionnaires only, unless this lets the model label windows.
    "TRAINING_SELF_LABELS",
    # Claude's labels checked against questionnaires first: how many windows, the pairs needed to map
    # its totals, and the total MAE above which its labels are not used.
    "TRAINING_LABEL_VALIDATION_WINDOWS",
    "TRAINING_LABEL_CALIBRATION_MIN_PAIRS",
    "TRAINING_LABEL_MAX_MAE",
    "TRAINING_TEST_FRACTION",
    "TRAINING_SPLIT",  # auto | time | patient
    # Claude pseudo-labels: without a key, stage 1 is skipped.
    "PSEUDO_LABEL_MODEL",
    "PSEUDO_LABEL_TOKEN_BUDGET",
    "PSEUDO_LABEL_MAX_RETRIES",
    # Ratings per window (their agreement is the label's confidence) and extended thinking (0 = off).
    "PSEUDO_LABEL_SAMPLES",
    "PSEUDO_LABEL_THINKING_BUDGET",
)


def _set_by_environment(names: tuple[str, ...]) -> dict[str, str]:
    """{name: text} of the variables the environment sets. Each is read without a default, since its
    default is the dataclass field's: django-environ raises ImproperlyConfigured for one that is unset."""
    found = {}
    for name in names:
        try:
            found[name] = env.str(name)
        except ImproperlyConfigured:
            continue
    return found


globals().update(_set_by_environment(TRAINING_FIELD_VARIABLES))
TRAINING_UNLABELED_DAYS = env.int("TRAINING_UNLABELED_DAYS", default=180)
TRAINING_MAX_UNLABELED = env.int("TRAINING_MAX_UNLABELED", default=500)
# Promotion as non-inferiority (training/promotion.py): a candidate replaces the active model only when the
# one-sided 95% upper bound of its paired, patient-level MAE difference lies below PROMOTION_MAE_MARGIN
# times the active's MAE, on at least PROMOTION_MIN_TEST_PATIENTS held-out patients neither trained on
# (fewer: the run stays a candidate for an admin to judge). `python -m training benchmark loop` measures it.
PROMOTION_MAE_MARGIN = env.float("PROMOTION_MAE_MARGIN", default=0.075)
PROMOTION_MIN_TEST_PATIENTS = env.int("PROMOTION_MIN_TEST_PATIENTS", default=20)
PROMOTION_MAX_AUC_DROP = env.float("PROMOTION_MAX_AUC_DROP", default=0.0)
# Claude, for pseudo-labels and cold-start ratings: without a key, stage 1 of the loop is skipped.
ANTHROPIC_API_KEY = env("ANTHROPIC_API_KEY", default="")
ANTHROPIC_BASE_URL = env("ANTHROPIC_BASE_URL", default="")
ANTHROPIC_TIMEOUT = env.float("ANTHROPIC_TIMEOUT", default=120.0)
# A labelling pass needing at least this many new labels goes through the Message Batches API (half price;
# the run waits without holding a worker). 0 = always one call at a time.
PSEUDO_LABEL_BATCH_MIN_WINDOWS = env.int("PSEUDO_LABEL_BATCH_MIN_WINDOWS", default=100)
# List prices of PSEUDO_LABEL_MODEL in US dollars per million tokens, for the run page's cost estimate.
PSEUDO_LABEL_PRICE_INPUT = env.float("PSEUDO_LABEL_PRICE_INPUT", default=15.0)
PSEUDO_LABEL_PRICE_OUTPUT = env.float("PSEUDO_LABEL_PRICE_OUTPUT", default=75.0)
# Cold start (CareTeam.llm_scoring, off by default): until a trained model is promoted, the Claude labeller
# rates consented patients of teams that chose it. Tokens it may spend per day (UTC) on new ratings; the
# questionnaire pairs it needs before its scores carry an interval (until then "not yet validated here");
# how many questionnaire windows a validation labels; how far back a team's sessions are rated when it
# turns it on; and the questionnaire patients the first trained model needs before it may replace it.
LLM_SCORING_DAILY_TOKEN_BUDGET = env.int("LLM_SCORING_DAILY_TOKEN_BUDGET", default=2_000_000)
LLM_SCORING_MIN_VALIDATION_PAIRS = env.int("LLM_SCORING_MIN_VALIDATION_PAIRS", default=20)
LLM_SCORING_VALIDATION_WINDOWS = env.int("LLM_SCORING_VALIDATION_WINDOWS", default=200)
LLM_SCORING_HISTORY_DAYS = env.int("LLM_SCORING_HISTORY_DAYS", default=28)
COLD_START_FIRST_MODEL_MIN_PATIENTS = env.int("COLD_START_FIRST_MODEL_MIN_PATIENTS", default=30)

# Ingestion API limits
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=5 * 1024 * 1024)
# DRF reads JSON through request.body, which Django caps at DATA_UPLOAD_MAX_MEMORY_SIZE (default 2.5 MB).
DATA_UPLOAD_MAX_MEMORY_SIZE = API_MAX_BODY_BYTES
API_MAX_MESSAGES = env.int("API_MAX_MESSAGES", default=2000)
API_MAX_MESSAGE_CHARS = env.int("API_MAX_MESSAGE_CHARS", default=20000)
# A web process remembers a valid ingest token this long (0: ask the database on every request);
# a revoked token is refused by every process within this time.
INGEST_TOKEN_CACHE_SECONDS = env.float("INGEST_TOKEN_CACHE_SECONDS", default=5.0)
# Per ingest token and minute; over it the API answers 429 with Retry-After. 0 turns the limit off.
INGEST_RATE_LIMIT_PER_MINUTE = env.int("INGEST_RATE_LIMIT_PER_MINUTE", default=1200)
# `manage.py loadtest` only: mounts a POST that authenticates and then does nothing, the floor its
# ingestion cost is compared with (monitor_site/bench/bare_post.py). Never on in production.
LOADTEST_BARE_POST = env.bool("LOADTEST_BARE_POST", default=False)
# Failed token authentications per client address and minute; over it 429 before any lookup. 0: off.
INGEST_AUTH_FAILURES_PER_MINUTE = env.int("INGEST_AUTH_FAILURES_PER_MINUTE", default=30)

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["monitor_site.api.parsers.StrictJSONParser"],  # duplicate keys: 400
    "DEFAULT_AUTHENTICATION_CLASSES": ["monitor_site.api.authentication.IngestTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["monitor_site.api.authentication.HasIngestToken"],
    "EXCEPTION_HANDLER": "monitor_site.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["monitor_site.api.authentication.IngestTokenRateThrottle"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "PHQ-9 monitor API",
    "DESCRIPTION": "Ingestion of AI-chat sessions and ground-truth PHQ-9 questionnaires. "
    "Scores derived from conversations are model-inferred, never questionnaire answers.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "monitor_site.api.serializers.schema_limits",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# Security headers that never change with the environment (CSP, framing, referrer).
vars().update({name: value for name, value in vars(security_headers).items() if name.isupper()})

# Production behind HTTPS (see .env.example): secure cookies, HSTS, redirect to https.
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)  # off only for the demo's http
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=SECURE_HSTS_SECONDS > 0)
if env.bool("DJANGO_BEHIND_TLS_PROXY", default=False):  # the proxy terminates TLS and says so
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
