"""Sign-ins and sign-outs go into the audit log, failed attempts and lockouts too (without the password)."""

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import audit, signin


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        signin.mark_signed_in(request.session)
    audit.record(user, "auth.login", user)


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record(user, "auth.logout", user)


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit.record(None, "auth.login_failed", object_type="lms.user",
                 object_repr=str(credentials.get("username", ""))[:150])


@receiver(user_locked_out)
def _locked_out(sender, request=None, username=None, ip_address=None, **kwargs):
    """django-axes locked a login name, or refused a sign-in during the lock."""
    failures = getattr(request, "axes_failures_since_start", None)
    audit.record(None, "auth.locked_out", object_type="lms.user", object_repr=str(username or "")[:150],
                 after={"failures": failures} if failures else {"refused": True})
