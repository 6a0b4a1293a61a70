"""Open Badges routes (included at the site root, namespace ``certificates``): the public keys, the issuer's
profile, the achievements (all public) and a certificate's signed credential (docs/open-badges.md)."""

from django.urls import path

from . import views_badges

urlpatterns: list = [
    path("certificates/keys.json", views_badges.jwks, name="jwks"),
    path("certificates/issuer.json", views_badges.issuer_profile, name="issuer_profile"),
    path("certificates/achievements/<slug:code>", views_badges.achievement, name="achievement"),
    path("certificates/<int:pk>/badge.jwt", views_badges.certificate_badge, name="certificate_badge"),
]
