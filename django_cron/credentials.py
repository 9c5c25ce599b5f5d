"""
Who is asking, and what they may do.

Three credentials reach the endpoints:

* the ping key, in the ping URL, or for the status details in the
  ``X-Cron-Key`` header or ``?key=``. It sits in access logs, so it only
  triggers runs and reads health: never an API call;
* an operator key (keys.py), in ``Authorization: Bearer <key>`` or the
  ``X-Cron-Key`` header, allowed what its scopes say;
* a signed-in staff user, allowed what their model permissions say, as in the
  admin, and held to Django's CSRF check.
"""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.checks import Warning
from django.db import DatabaseError
from django.middleware.csrf import CsrfViewMiddleware
from django.urls import NoReverseMatch, reverse
from django.utils.crypto import constant_time_compare

from . import conf, keys
from .audit import user_actor
from .availability import Unavailable, ask

KEY_HEADER = "X-Cron-Key"
# A key longer than this is no key of ours; it is refused before it is hashed.
LONGEST_KEY = 200


class Refused(Exception):
    """A request that may not do what it asks; ``str()`` says which credential would."""

    status = 403


@dataclass(frozen=True)
class Credential:
    """What a request was allowed on: an operator key, a user, or the ping key."""

    # Who, as the audit trail names them: "API key deploy", or a username.
    actor: str
    key: object = None
    user: object = None
    ping: bool = False
    scopes: frozenset = field(default_factory=frozenset)

    def may(self, scope: str, *permissions: str) -> bool:
        """Tell whether this credential allows ``scope`` (a key) or ``permissions`` (a user)."""
        if self.key is not None:
            return scope in self.scopes
        if self.user is not None:
            return _has_perms(self.user, permissions)
        return False

    @property
    def sees_arguments(self) -> bool:
        """Tell whether the arguments of one-off runs and schedules may be shown to it."""
        return self.may("read", "django_cron.view_jobschedule")


def ping_key_matches(given: str | None) -> bool:
    """Compare ``given`` with PING_KEY in constant time; no key configured never matches."""
    expected = conf.get("PING_KEY")
    return bool(expected) and constant_time_compare(given or "", expected)


def presented_key(request) -> str | None:
    """Return the key the request sends in a header, or None: Authorization first."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    return request.headers.get(KEY_HEADER)


def _has_perms(user, permissions, staff: bool = False) -> bool:
    """Tell whether ``user`` has every one of ``permissions`` (and is staff, if asked)."""
    try:
        if staff and not (user.is_active and user.is_staff):
            return False
        # False for anonymous and inactive users, True for active superusers.
        return user.has_perms(permissions)
    except DatabaseError:
        # The users' database may be the one that is down: refused, not a 500.
        return False


def _passes_csrf(request) -> bool:
    # The views are csrf_exempt, so the site's CsrfViewMiddleware lets them
    # through: the check runs here, for session requests only. No callback:
    # nothing marks it exempt. It returns a refusal, or None to accept.
    return CsrfViewMiddleware(lambda request: None).process_view(request, None, (), {}) is None


def operator_key(given: str, scope: str) -> Credential:
    """Return the credential of an operator key allowed ``scope``; raise Refused saying why not."""
    if ping_key_matches(given):
        raise Refused(
            "The ping key only triggers runs and reads the status details. Create an operator "
            f"key with the scope {scope!r} (manage.py cron key create NAME --scope {scope}) and "
            "send it as Authorization: Bearer <key>."
        )
    row = ask(lambda: keys.find(given)) if len(given) <= LONGEST_KEY else None
    if row is None:
        raise Refused("The key is not an operator key (manage.py cron key list shows them).")
    if row.revoked_at is not None:
        raise Refused(f"The operator key {row.name!r} was revoked.")
    if scope not in row.scope_list:
        raise Refused(
            f"The operator key {row.name!r} lacks the scope {scope!r}; "
            f"it has {', '.join(row.scope_list)}."
        )
    return Credential(actor=f"API key {row.name}", key=row, scopes=frozenset(row.scope_list))


def authorise(request, scope: str, permissions: tuple) -> Credential:
    """
    Return the credential that allows the request what needs ``scope`` (a key)
    or ``permissions`` (a user); raise Refused saying why not.

    A key that is sent is the credential, even with a signed-in user: a client
    that means to use a key learns at once that it is wrong. A key request
    needs no CSRF check: a page on another site cannot make a browser send a
    header of its choosing, and it does not know the key. A session request
    must pass Django's CSRF check, since the browser sends its cookie with a
    forged cross-site POST too.
    """
    given = presented_key(request)
    if given is not None:
        credential = operator_key(given, scope)
        ask(lambda: keys.mark_used(credential.key))
        return credential
    user = getattr(request, "user", None)
    if user is None or not _has_perms(user, permissions, staff=True):
        raise Refused(
            f"Send an operator key with the scope {scope!r} as Authorization: Bearer <key>, "
            f"or log in as a staff user with the permission {', '.join(permissions)}."
        )
    if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE") and not _passes_csrf(request):
        raise Refused(
            "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header."
        )
    return Credential(actor=user_actor(user), user=user)


def viewer(request) -> Credential | None:
    """
    Return who may see the status details, or None: the ping key (in the
    header, else in ``?key=``, as monitors send it), an operator key with the
    ``read`` scope, or a user with the permission to view jobs. A header that
    is sent is the only key read: a query string cannot override it.
    """
    given = presented_key(request)
    if given is None:
        given = request.GET.get("key")
    if given:
        if ping_key_matches(given):
            return Credential(actor="ping key", ping=True)
        try:
            credential = operator_key(given, "read")
            ask(lambda: keys.mark_used(credential.key))
            return credential
        except (Refused, Unavailable):
            # A wrong key, or no database to look it up in: the summary, without details.
            return None
    user = getattr(request, "user", None)
    if user is not None and _has_perms(user, ("django_cron.view_jobstate",)):
        return Credential(actor=user_actor(user), user=user)
    return None


# Checks ------------------------------------------------------------------------


def check_ping_key() -> list:
    """Warn when the ping URL is routed but no key can open it."""
    # A project without URLs (a worker-only settings module) routes nothing.
    if conf.get("PING_KEY") or not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("django_cron:ping", kwargs={"key": "k"})
    except NoReverseMatch:
        return []
    return [
        Warning(
            "django_cron's URLs are included but DJANGO_CRON['PING_KEY'] is empty, "
            "so cron/ping/<key>/ answers 404 to everyone.",
            hint=f"Set PING_KEY. {conf.PING_KEY_HINT}.",
            id="django_cron.W001",
        )
    ]


# Shorter than this, a key falls to guessing sooner than a session cookie would.
SHORTEST_PING_KEY = 32
# What a URL path cannot carry as it is: "/" ends the key, "?" and "#" end the path.
URL_UNSAFE = set("/?#% \t\r\n")


def check_ping_key_strength() -> list:
    """Warn about a ping key that is short, or that a URL path cannot carry."""
    key = conf.get("PING_KEY")
    if not key:
        return []
    warnings = []
    if len(key) < SHORTEST_PING_KEY:
        warnings.append(
            Warning(
                f"DJANGO_CRON['PING_KEY'] has {len(key)} characters, fewer than "
                f"{SHORTEST_PING_KEY}: it is in every access log and monitor, and short "
                "enough to guess.",
                hint=f"{conf.PING_KEY_HINT}.",
                id="django_cron.W008",
            )
        )
    unsafe = sorted(URL_UNSAFE & set(key)) + sorted({c for c in key if not c.isprintable()})
    if unsafe:
        warnings.append(
            Warning(
                f"DJANGO_CRON['PING_KEY'] holds {', '.join(map(repr, unsafe))}, which a ping "
                "URL cannot carry as it is: the monitor's requests would miss the key.",
                hint=f"{conf.PING_KEY_HINT}: letters, digits, - and _ only.",
                id="django_cron.W009",
            )
        )
    return warnings
