"""Settings from environment variables with safe defaults.

With no variable set: a SQLite file under ``var/``, the in-memory channel layer,
the database task backend, DEBUG off and a secret generated on first run.

Variables:
    DJANGO_DEBUG=1                 turn DEBUG on (never in production)
    DJANGO_SECRET_KEY              signing secret (default: generated into var/secrets.json)
    FIELD_ENCRYPTION_KEY           base64 32-byte key for protected personal data
                                   (default: generated into var/secrets.json)
    DJANGO_ALLOWED_HOSTS           comma-separated host names
    DJANGO_CSRF_TRUSTED_ORIGINS    comma-separated origins (https://lms.example.org)
    DATABASE_URL                   e.g. postgres://user@127.0.0.1:5432/lms (default SQLite)
    REDIS_URL                      e.g. redis://127.0.0.1:6379/0: channels-redis layer and Redis cache
    LMS_VAR_DIR                    where the SQLite file, secrets and media live (default ./var);
                                   created 0700, the SQLite file and secrets.json 0600
    DJANGO_HTTPS=1                 production behind HTTPS: redirect HTTP to HTTPS (except /healthz),
                                   HSTS, secure session and CSRF cookies
    DJANGO_HSTS_SECONDS            HSTS max-age with DJANGO_HTTPS (default 31536000, one year)
    DJANGO_HSTS_PRELOAD=1          add the HSTS preload directive (opt-in: hard to undo, binds
                                   every subdomain once the domain is on the browsers' list)
    DJANGO_TRUST_X_FORWARDED_PROTO=1  only behind a TLS-terminating proxy that sets
                                   X-Forwarded-Proto itself (and drops the client's): requests it
                                   marks "https" count as secure. Without a proxy a client could
                                   forge it.
    DJANGO_SECURE_COOKIES=1        secure cookies only (implied by DJANGO_HTTPS)
    LMS_BASE_URL                   public base URL, used in links that leave the site
    LMS_STATIC_ROOT                where collectstatic puts the files the proxy serves
                                   (default ./static_collected)
    LMS_CONTENT_CACHE_S            how long a lesson page's shared part (the same for every visitor)
                                   stays cached, in seconds (default 86400; 0: rendered every time)
    LMS_CONTENT_PAGE_CACHE=0       render lesson pages per request around their cached part instead of
                                   serving the whole page from the cache (for comparison)
    LMS_SESSION_AGE_S              longest a sign-in lasts, in seconds (default 28800, 8 hours)
    LMS_SESSION_IDLE_S             sign out after this many seconds without a page request
                                   (default 3600; 0 turns the idle timeout off)
    LMS_LOGIN_FAILURE_LIMIT        wrong passwords before sign-in is locked (default 5)
    LMS_LOGIN_COOLOFF_MIN          minutes a lock lasts (default 15)
    LMS_LOGIN_LOCKOUT              "username_ip" (default: a login name from one IP address) or
                                   "username" (a login name from anywhere)
    LMS_NUMBER_SEARCH_LIMIT        exact ID-card/phone searches per person per window (default 10)
    LMS_NUMBER_SEARCH_WINDOW_S     that window in seconds (default 600)
    LMS_RESET_CODE_TTL_S           password-reset codes expire after this many seconds (default 600)
    LMS_RESET_CODES_PER_PERSON     codes sent to one person per hour (default 3)
    LMS_RESET_REQUESTS_PER_IP      reset requests from one IP address per hour (default 10)
    LMS_SMS_BACKEND                SMS backend class (default lms.sms.LogFileBackend: the log and
                                   var/sms-outbox.log)
    DJANGO_EMAIL_BACKEND           e-mail backend (default file-based, into var/mail-outbox/);
                                   with SMTP also DJANGO_EMAIL_HOST, _PORT, _HOST_USER,
                                   _HOST_PASSWORD, DJANGO_EMAIL_USE_TLS=1, DJANGO_DEFAULT_FROM_EMAIL
"""

import base64
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("LMS_VAR_DIR", BASE_DIR / "var"))
# Personal data and secrets: only the server's own user may read var/ (an existing one is tightened).
VAR_DIR.mkdir(mode=0o700, parents=True, exist_ok=True)
if VAR_DIR.stat().st_uid == os.getuid() and VAR_DIR.stat().st_mode & 0o077:
    VAR_DIR.chmod(0o700)


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def _local_secrets() -> dict:
    """Secrets generated once per checkout into var/secrets.json (never committed)."""
    path = VAR_DIR / "secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = {
        "secret_key": secrets.token_urlsafe(50),
        "field_encryption_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    }
    tmp = path.with_suffix(".tmp")
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(json.dumps(values))
    try:
        # Another process may have written it first: keep theirs.
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return json.loads(path.read_text())


_secrets = None
if not (os.environ.get("DJANGO_SECRET_KEY") and os.environ.get("FIELD_ENCRYPTION_KEY")):
    _secrets = _local_secrets()

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY") or _secrets["secret_key"]
FIELD_ENCRYPTION_KEY = os.environ.get("FIELD_ENCRYPTION_KEY") or _secrets["field_encryption_key"]

DEBUG = _env_bool("DJANGO_DEBUG")
ALLOWED_HOSTS = _env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver")
CSRF_TRUSTED_ORIGINS = _env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Only behind a reverse proxy that sets it: otherwise a client could forge its audit IP.
LMS_TRUST_X_FORWARDED_FOR = _env_bool("LMS_TRUST_X_FORWARDED_FOR")
LMS_BASE_URL = os.environ.get("LMS_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "lms",
    "content",
    "courses",
    "exams",
    "manikin",
    "certificates",
    "instructors",
    "inspections",
    "dashboards",
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "django_filters",
    "django_tasks",
    "django_tasks_db",
    "channels",
    "csp",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "lms.security.ContentSecurityPolicyMiddleware",
    # Lesson pages (the same for every visitor) from the cache, before sessions and Wagtail.
    "content.pagecache.CachedLessonPageMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "lms.locale.DefaultChineseLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "lms.audit.AuditContextMiddleware",
    "lms.security.NoStoreMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "lms.signin.SessionTimeoutMiddleware",
    # Signed-in people agree to the current privacy notice before anything else (lms.privacy).
    "lms.privacy.ConsentMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Last: turns a sign-in refused by django-axes into the lockout page (lms.signin.lockout_response).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "lms.urls"
ASGI_APPLICATION = "lms.asgi.application"
WSGI_APPLICATION = "lms.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
else:
    # Created 0600 before SQLite opens it: SQLite gives the -wal and -shm files the same mode.
    try:
        os.close(os.open(VAR_DIR / "db.sqlite3", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "db.sqlite3",
            # Keep connections: WebSocket consumers run many short database calls.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
            # WAL and a busy timeout let the server, the task worker and the shell share the file.
            "OPTIONS": {
                "timeout": 20,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    # Django's Redis cache, which an outage of Redis degrades (misses, dropped writes) instead of failing.
    CACHES = {"default": {"BACKEND": "lms.cache.RedisCache", "LOCATION": REDIS_URL}}
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 2000}}}
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

AUTH_USER_MODEL = "lms.User"
LOGIN_URL = "lms:login"
LOGIN_REDIRECT_URL = "lms:dashboard"
LOGOUT_REDIRECT_URL = "/"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

# Sign-in throttling (django-axes): every django.contrib.auth.authenticate() goes through the axes
# backend first, so /login/ and Wagtail's /admin/login/ share one count. After
# LMS_LOGIN_FAILURE_LIMIT wrong passwords for a login name from one IP address (or from anywhere,
# with LMS_LOGIN_LOCKOUT=username) sign-in is refused for LMS_LOGIN_COOLOFF_MIN minutes, even with
# the right password; tries during the lock do not extend it. A successful sign-in or a password
# reset by code clears the count. Failures and locks are in the audit log (lms.signals).
AUTHENTICATION_BACKENDS = [
    "lms.signin.ThrottledSignInBackend",  # django-axes' backend; lets request-less calls through
    "django.contrib.auth.backends.ModelBackend",
    "exams.auth.BankManagerAdminAccess",  # province admins into the Wagtail admin, for the question bank only
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = int(os.environ.get("LMS_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=float(os.environ.get("LMS_LOGIN_COOLOFF_MIN", "15")))
AXES_LOCKOUT_PARAMETERS = (
    ["username"] if os.environ.get("LMS_LOGIN_LOCKOUT", "username_ip") == "username"
    else [["username", "ip_address"]]
)
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "lms.signin.lockout_response"
AXES_CLIENT_IP_CALLABLE = "lms.signin.client_ip"  # the audit log's rule (LMS_TRUST_X_FORWARDED_FOR)
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are in the audit log already
AXES_VERBOSE = False
# Wagtail's own reset (an e-mailed link, no throttle) and its account password form (no throttle on
# the current password) are off: everyone uses /password-reset/ and /account/password/.
WAGTAIL_PASSWORD_RESET_ENABLED = False
WAGTAIL_PASSWORD_MANAGEMENT_ENABLED = False

# Sessions: at most LMS_SESSION_AGE_S after signing in, ended when the browser closes, and after
# LMS_SESSION_IDLE_S without a page request (lms.signin.SessionTimeoutMiddleware).
SESSION_COOKIE_AGE = int(os.environ.get("LMS_SESSION_AGE_S", str(8 * 3600)))
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
LMS_SESSION_IDLE_S = int(os.environ.get("LMS_SESSION_IDLE_S", "3600"))

# Password reset by a one-time code sent to the person's phone (preferred) or e-mail address.
LMS_RESET_CODE_TTL_S = int(os.environ.get("LMS_RESET_CODE_TTL_S", "600"))
LMS_RESET_CODE_MAX_TRIES = 5  # wrong tries that burn a code
LMS_RESET_WINDOW_S = 3600
LMS_RESET_CODES_PER_PERSON = int(os.environ.get("LMS_RESET_CODES_PER_PERSON", "3"))  # per window
LMS_RESET_REQUESTS_PER_IP = int(os.environ.get("LMS_RESET_REQUESTS_PER_IP", "10"))  # per window
LMS_SMS_BACKEND = os.environ.get("LMS_SMS_BACKEND", "lms.sms.LogFileBackend")
LMS_SMS_OUTBOX = VAR_DIR / "sms-outbox.log"
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND", "django.core.mail.backends.filebased.EmailBackend")
EMAIL_FILE_PATH = VAR_DIR / "mail-outbox"
EMAIL_HOST = os.environ.get("DJANGO_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("DJANGO_EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("DJANGO_EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("DJANGO_EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("DJANGO_EMAIL_USE_TLS")
DEFAULT_FROM_EMAIL = os.environ.get("DJANGO_DEFAULT_FROM_EMAIL", "noreply@localhost")

# Personal-data rights (lms.privacy, docs/privacy.md): the privacy notice's version (a new version is
# asked for again at the next request of every signed-in person) and exports per person and hour.
PRIVACY_NOTICE_VERSION = os.environ.get("LMS_PRIVACY_NOTICE_VERSION", "2026-11")
LMS_PRIVACY_CONSENT_REQUIRED = True
# Who people write to about their personal information (shown in the notice).
LMS_PRIVACY_CONTACT = os.environ.get("LMS_PRIVACY_CONTACT", "所在地红十字会（演示：privacy@example.org）")
LMS_PRIVACY_EXPORTS_PER_HOUR = int(os.environ.get("LMS_PRIVACY_EXPORTS_PER_HOUR", "5"))

# Exact ID-card or mobile-number searches (lms.api.search_people_by_number): per person and window.
LMS_NUMBER_SEARCH_LIMIT = int(os.environ.get("LMS_NUMBER_SEARCH_LIMIT", "10"))
LMS_NUMBER_SEARCH_WINDOW_S = int(os.environ.get("LMS_NUMBER_SEARCH_WINDOW_S", "600"))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True
WAGTAIL_I18N_ENABLED = False
WAGTAILADMIN_PERMITTED_LANGUAGES = LANGUAGES

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ["LMS_STATIC_ROOT"]) if os.environ.get("LMS_STATIC_ROOT") else BASE_DIR / "static_collected"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
# Uploads (ID photos) are personal data, served only through permission-checked views.
FILE_UPLOAD_PERMISSIONS = 0o600
FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o700
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve app static files straight from the finders when collectstatic has not run (tests, DEBUG).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

DATA_UPLOAD_MAX_NUMBER_FIELDS = 10_000
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
LMS_HTTPS = _env_bool("DJANGO_HTTPS")
if LMS_HTTPS or _env_bool("DJANGO_SECURE_COOKIES"):
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
if LMS_HTTPS:
    SECURE_SSL_REDIRECT = True
    # Load balancers probe each process over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", 365 * 24 * 3600))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = _env_bool("DJANGO_HSTS_PRELOAD")
    if not SECURE_HSTS_PRELOAD:
        # Preloading is the domain owner's decision (see DJANGO_HSTS_PRELOAD), not a missing setting.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]
if _env_bool("DJANGO_TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Content-Security-Policy (django-csp): the browser loads, runs, connects to and posts to the
# site's own host only. 'self' in connect-src covers WebSockets to the same host (ws: and wss:).
# The Wagtail admin gets a few allowances on top, in lms.security.ADMIN_CSP_REPLACE.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        # style="" attributes in a few templates: they cannot load anything (img-src and font-src
        # still apply) nor select elements, unlike <style> elements, which stay 'self' only.
        "style-src-attr": [UNSAFE_INLINE],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

WAGTAIL_SITE_NAME = _("Red Cross First-Aid Training")
WAGTAILADMIN_BASE_URL = LMS_BASE_URL
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAILDOCS_EXTENSIONS = ["csv", "docx", "pdf", "pptx", "txt", "xlsx", "zip", "mp4", "webm", "vtt"]
# ... and the content must be what the extension says, within a size limit (content/documents.py).
WAGTAILDOCS_DOCUMENT_FORM_BASE = "content.documents.DocumentForm"
# Course illustrations are drawn as SVG (kept as SVG when shown: "preserve-svg" renditions).
WAGTAILIMAGES_EXTENSIONS = ["gif", "jpg", "jpeg", "png", "webp", "svg"]
# Documents (lesson videos, captions) through Wagtail's permission-checked view with HTTP Range
# support; behind nginx the file itself goes out through X-Accel-Redirect (content.sendfile).
SENDFILE_BACKEND = "content.sendfile"
# Lesson pages: how long the part that is the same for every visitor stays cached (0: not cached).
CONTENT_LESSON_CACHE_S = int(os.environ.get("LMS_CONTENT_CACHE_S", str(24 * 3600)))
# A lesson page is the same for every visitor (the trainee's progress comes from /study/): the whole
# page is cached and served before sessions and Wagtail (content.pagecache). 0 turns it off.
CONTENT_PAGE_CACHE = os.environ.get("LMS_CONTENT_PAGE_CACHE", "1") != "0" and CONTENT_LESSON_CACHE_S > 0
# No admin's browser contacts another host: no update check (releases.wagtail.org), no banner
# pointing to Wagtail's English guide, no Gravatar avatars (gravatar.com).
# The zones editors need (Wagtail otherwise offers every zone the server knows, including "localtime",
# which its account page cannot handle).
WAGTAIL_USER_TIME_ZONES = ["Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong", "Asia/Macau", "Asia/Taipei", "UTC"]
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_ENABLE_WHATS_NEW_BANNER = False
WAGTAIL_GRAVATAR_PROVIDER_URL = None

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LMS_LOG_LEVEL", "INFO")},
    # axes: failures and lockouts only (they are in the audit log as well), not every sign-in.
    "loggers": {"django.request": {"level": "WARNING"}, "daphne": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# Smart-manikin ingest and live consoles (manikin/).
MANIKIN_MAX_DEVICES_PER_STATION = int(os.environ.get("MANIKIN_MAX_DEVICES_PER_STATION", "8"))
MANIKIN_HELLO_TIMEOUT_S = float(os.environ.get("MANIKIN_HELLO_TIMEOUT_S", "10"))
# How long the ingest waits for more frames before a group commit (seconds).
MANIKIN_GROUP_COMMIT_GATHER_S = float(os.environ.get("MANIKIN_GROUP_COMMIT_GATHER_S", "0.01"))
# A browser socket re-checks its session and permission this often (and at once on logout or a role change).
MANIKIN_SOCKET_RECHECK_S = float(os.environ.get("MANIKIN_SOCKET_RECHECK_S", "60"))
# The study and exam sockets (lms.sockets.PersonSocket) re-check the person on this timer besides the
# notifications of lms.access (logout, deactivation, roles, enrolments): a safety net for a lost
# notification; thousands of exam sockets re-checking every minute would cost the answers behind them.
LMS_PERSON_SOCKET_RECHECK_S = float(os.environ.get("LMS_PERSON_SOCKET_RECHECK_S", "300"))
# Live messages a console may have unread before waveform updates are skipped; and how long it may stall.
MANIKIN_CONSOLE_WINDOW = int(os.environ.get("MANIKIN_CONSOLE_WINDOW", "200"))
MANIKIN_CONSOLE_STALL_S = float(os.environ.get("MANIKIN_CONSOLE_STALL_S", "60"))

# Public certificate verification (certificates/views_verify.py, docs/verification.md), per client IP address:
# single lookups a minute (pages, scans, API), not-found answers per window (past it every lookup from the
# address waits: guessing numbers produces misses), bulk requests per window and numbers per request, the
# largest upload. LMS_VERIFY_RATE_LIMITS=0 turns the limits off (benchmarks only). LMS_VERIFY_LOOKUP: how a
# number is looked up: "prepared" (one query, prepared once per PostgreSQL connection), "sql", "values" or "orm"
# (the benchmark's comparison; certificates/verification.py). Behind a pooler that drops session state
# (pgbouncer in transaction mode) use "sql".
LMS_VERIFY_RATE_LIMITS = _env_bool("LMS_VERIFY_RATE_LIMITS", True)
LMS_VERIFY_LOOKUPS_PER_MINUTE = int(os.environ.get("LMS_VERIFY_LOOKUPS_PER_MINUTE", "60"))
LMS_VERIFY_MISSES_LIMIT = int(os.environ.get("LMS_VERIFY_MISSES_LIMIT", "20"))
LMS_VERIFY_MISSES_WINDOW_S = int(os.environ.get("LMS_VERIFY_MISSES_WINDOW_S", "600"))
LMS_VERIFY_BULK_LIMIT = int(os.environ.get("LMS_VERIFY_BULK_LIMIT", "10"))
LMS_VERIFY_BULK_WINDOW_S = int(os.environ.get("LMS_VERIFY_BULK_WINDOW_S", "600"))
LMS_VERIFY_BULK_MAX_NUMBERS = int(os.environ.get("LMS_VERIFY_BULK_MAX_NUMBERS", "500"))
LMS_VERIFY_BULK_MAX_BYTES = int(os.environ.get("LMS_VERIFY_BULK_MAX_BYTES", str(1024 * 1024)))
LMS_VERIFY_LOOKUP = os.environ.get("LMS_VERIFY_LOOKUP", "prepared")
