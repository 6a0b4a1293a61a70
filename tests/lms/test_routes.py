"""Every page and action of the product apps refuses anonymous visitors (only the public ones answer)."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

PUBLIC = {"lms:login", "lms:logout", "lms:healthz",
          "lms:password_reset", "lms:password_reset_verify"}  # reset: for people who cannot log in


def named_routes():
    out = []

    def walk(patterns, namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                if p.namespace in ("lms", "manikin"):
                    walk(p.url_patterns, ns)
            elif isinstance(p, URLPattern) and p.name and namespace:
                out.append((namespace + p.name, p))

    walk(get_resolver().url_patterns)
    return out


ROUTES = named_routes()


def test_the_route_list_is_not_empty():
    names = {n for n, _ in ROUTES}
    assert {"lms:dashboard", "lms:people", "manikin:console", "manikin:start", "manikin:stop"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize("name,pattern", [r for r in ROUTES if r[0] not in PUBLIC], ids=lambda r: str(r))
def test_anonymous_visitors_are_sent_to_login(client, name, pattern):
    path = "/" + str(pattern.pattern).replace("<int:pk>", "1").replace("<int:room_id>", "1") \
        .replace("<int:manikin_id>", "1").replace("<int:recording_id>", "1")
    for method in ("get", "post"):
        resp = getattr(client, method)(path)
        assert resp.status_code in (302, 405), (method, path, resp.status_code)
        if resp.status_code == 302:
            assert resp["Location"].startswith("/login/")
