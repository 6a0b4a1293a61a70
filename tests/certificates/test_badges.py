"""Open Badges 3.0 (certificates/badges.py, docs/open-badges.md): the credential's structure and minimised
personal data, the VC-JWT proof (EdDSA) with its round trip, tampering, foreign keys and key rotation, the
verifier command online and offline, the key rotation command, and the public keys / issuer / download views.

Certificates are made as rows directly (fast): issuing itself is tests/certificates/test_issue.py's."""

from __future__ import annotations

import datetime
import io
import json
import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from jwcrypto import jwk, jws

from certificates import badges, signing
from certificates.issuing import expiry_for
from certificates.models import Certificate, CertificateRule, SigningKey
from certificates.numbering import damm_digit
from lms import api as lms_api
from lms.models import Organisation, Role
from tests.courses.study_support import make_programme

ID_CARD = "11010519491231002X"
FULL_NAME = "张三丰"


def numbered(base: str) -> str:
    """A well-formed number (the Damm check digit appended), as the verification API expects."""
    return base + damm_digit(base)


NUMBER = numbered("330106202600000017")


@pytest.fixture
def world(regions, make_person):
    programme = make_programme(code="first-aider", name="救护员取证培训")
    CertificateRule.objects.create(programme=programme, title="救护员证", validity_years=3)
    org = lms_api.create_organisation(None, name="西湖区红十字会", kind=Organisation.Kind.RED_CROSS,
                                      region=regions["xihu"])
    holder = make_person(regions["xihu"], username="holder", real_name=FULL_NAME, id_card=ID_CARD)
    other = make_person(regions["xihu"], username="other", real_name="李四")
    county_admin = make_person(regions["xihu"], roles=(Role.TRAINEE,), admin_of=regions["xihu"], username="xh_admin")
    sibling_admin = make_person(regions["shangcheng"], roles=(Role.TRAINEE,), admin_of=regions["shangcheng"],
                                username="sc_admin")
    return {"programme": programme, "org": org, "holder": holder, "other": other, "county_admin": county_admin,
            "sibling_admin": sibling_admin, "region": regions["xihu"]}


def make_certificate(world, *, number=NUMBER, issued_on=None, years=3, **kw) -> Certificate:
    issued_on = issued_on or timezone.localdate()
    holder = world["holder"]
    return Certificate.objects.create(
        number=number, holder=holder, programme=world["programme"], region=world["region"], issuer=world["org"],
        title="救护员证", holder_name=holder.real_name, id_card_masked=holder.id_card_masked,
        programme_name="救护员取证培训", class_hours=Decimal("16.0"), issuer_name=world["org"].name,
        issued_on=issued_on, expires_on=expiry_for(issued_on, years),
        **kw)


def segments(token: str) -> tuple[dict, dict, str]:
    head, body, sig = token.split(".")
    return json.loads(signing.b64u_decode(head)), json.loads(signing.b64u_decode(body)), sig


def reencode(header: dict, claims: dict, sig: str) -> str:
    """A token with changed content and the old signature (what a forger without the key can do)."""
    enc = lambda d: signing.b64u(json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode())  # noqa: E731
    return f"{enc(header)}.{enc(claims)}.{sig}"


def sign_with(private: Ed25519PrivateKey, header: dict, claims: dict) -> str:
    token = jws.JWS(json.dumps(claims, ensure_ascii=False).encode())
    token.add_signature(jwk.JWK.from_pyca(private), None, json.dumps(header))
    return token.serialize(compact=True)


def run(*args) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


# ------------------------------------------------------------------ the credential


@pytest.mark.django_db
def test_credential_is_an_open_badge_with_the_certificate_facts(world, settings):
    settings.LMS_BASE_URL = "https://jiuhu.example.cn"
    cert = make_certificate(world, issued_on=datetime.date(2026, 3, 1))
    cred = badges.credential(cert)

    assert cred["@context"] == ["https://www.w3.org/ns/credentials/v2",
                                "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"]
    assert cred["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert cred["id"].startswith("urn:uuid:") and cred["id"] == badges.credential(cert)["id"]  # deterministic
    assert cred["issuer"] == {"id": "https://jiuhu.example.cn/certificates/issuer.json", "type": ["Profile"],
                              "name": "中国红十字会 · 西湖区红十字会", "url": "https://jiuhu.example.cn/"}
    assert cred["name"] == "救护员证"
    assert cred["validFrom"] == "2026-03-01T00:00:00+08:00"
    assert cred["validUntil"] == "2029-02-28T23:59:59+08:00"
    subject = cred["credentialSubject"]
    assert subject["type"] == ["AchievementSubject"] and subject["id"].startswith("urn:uuid:")
    assert subject["licenseNumber"] == NUMBER
    identity = subject["identifier"][0]
    assert identity["type"] == "IdentityObject" and identity["hashed"] is True and identity["identityType"] == "name"
    assert identity["identityHash"] == badges.identity_hash(FULL_NAME, identity["salt"])  # an employer can check
    assert identity["identityHash"].startswith("sha256$")
    achievement = subject["achievement"]
    assert achievement["id"] == "https://jiuhu.example.cn/certificates/achievements/first-aider"
    assert achievement["type"] == ["Achievement"] and achievement["achievementType"] == "Certificate"
    assert achievement["name"] == "救护员取证培训"
    assert achievement["criteria"]["narrative"] == "通过线上理论考试和线下实操考试（含智能模拟人心肺复苏考核）"
    assert cred["credentialStatus"] == {"id": f"https://jiuhu.example.cn/api/v1/certificates/{NUMBER}/",
                                        "type": badges.STATUS_TYPE, "certificateNumber": NUMBER, "revision": 1}
    assert "张**" in cred["description"]


@pytest.mark.django_db
def test_the_jwt_carries_no_id_card_number_and_no_full_name(world):
    cert = make_certificate(world)
    assert world["holder"].id_card_masked and cert.id_card_masked  # there is something not to leak
    header, claims, _sig = segments(badges.export_badge(cert))
    text = json.dumps([header, claims], ensure_ascii=False)
    for secret in (ID_CARD, ID_CARD[-4:] + '"', cert.id_card_masked, FULL_NAME, "三丰"):
        assert secret not in text
    assert world["holder"].username not in text


# ------------------------------------------------------------------ the proof


@pytest.mark.django_db
def test_export_and_verify_round_trip(world, settings):
    settings.LMS_BASE_URL = "https://jiuhu.example.cn"
    cert = make_certificate(world)
    token = badges.export_badge(cert)
    header, claims, _sig = segments(token)
    key = signing.active_payload_key()
    assert header == {"alg": "EdDSA", "kid": f"https://jiuhu.example.cn/certificates/keys.json#{key.kid}",
                      "typ": "JWT"}
    cred = badges.credential(cert)
    assert claims["vc"] == cred
    assert {k: v for k, v in claims.items() if k not in ("iss", "sub", "jti", "nbf", "exp", "iat", "vc")} == cred
    assert claims["iss"] == cred["issuer"]["id"] and claims["jti"] == cred["id"]
    assert claims["sub"] == cred["credentialSubject"]["id"]
    assert claims["nbf"] == int(datetime.datetime.fromisoformat(cred["validFrom"]).timestamp())
    assert claims["exp"] == int(datetime.datetime.fromisoformat(cred["validUntil"]).timestamp())

    assert badges.verify_badge(token) == cred  # the site's keys
    assert badges.verify_badge(token, signing.public_jwks()) == cred  # a JWKS, as an outside verifier has it
    # any JOSE library verifies it with the published key
    published = next(k for k in signing.public_jwks()["keys"] if k["kid"] == key.kid)
    plain = jws.JWS()
    plain.deserialize(token)
    plain.verify(jwk.JWK(kty="OKP", crv="Ed25519", x=published["x"]), alg="EdDSA")


@pytest.mark.django_db
def test_a_tampered_claim_fails_the_signature(world):
    token = badges.export_badge(make_certificate(world))
    header, claims, sig = segments(token)
    for change in ("validUntil", "number", "vc-only"):
        forged = json.loads(json.dumps(claims))
        if change == "validUntil":
            forged["validUntil"] = forged["vc"]["validUntil"] = "2099-12-31T23:59:59+08:00"
            forged["exp"] = int(datetime.datetime(2099, 12, 31, 23, 59, 59).timestamp())
        elif change == "number":
            forged["credentialSubject"]["licenseNumber"] = numbered("330106202600000025")
        else:
            forged["vc"]["name"] = "导师证"
        with pytest.raises(badges.BadgeError) as exc:
            badges.verify_badge(reencode(header, forged, sig))
        assert exc.value.code == "signature"
    # one flipped character of the signature
    last = "A" if sig[10] != "A" else "B"
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(token[: token.rindex(".") + 11] + last + token[token.rindex(".") + 12:])
    assert exc.value.code == "signature"


@pytest.mark.django_db
def test_not_a_badge_is_a_format_error(world):
    for text in ("", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ9.", "not a jwt at all"):
        with pytest.raises(badges.BadgeError) as exc:
            badges.verify_badge(text)
        assert exc.value.code == "format"
    # "alg": "none" is refused whatever the rest says
    header, claims, _sig = segments(badges.export_badge(make_certificate(world)))
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(reencode({**header, "alg": "none"}, claims, ""))
    assert exc.value.code == "format"


@pytest.mark.django_db
def test_a_signature_by_another_key_is_refused(world):
    cert = make_certificate(world)
    header, claims, _sig = segments(badges.export_badge(cert))
    intruder = Ed25519PrivateKey.generate()
    # the intruder's own key id: not one of the site's keys
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(sign_with(intruder, {**header, "kid": badges.key_url("ed20260101-bad000")}, claims))
    assert exc.value.code == "unknown_key"
    # the site's key id on the intruder's signature
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(sign_with(intruder, header, claims))
    assert exc.value.code == "signature"


@pytest.mark.django_db
def test_claims_that_contradict_the_credential_are_refused_even_when_signed(world):
    cert = make_certificate(world)
    key = signing.active_payload_key()
    claims = badges.claims_for(badges.credential(cert))
    for field, value in (("jti", "urn:uuid:00000000-0000-0000-0000-000000000000"),
                         ("iss", "https://elsewhere.example/issuer.json"), ("nbf", 0)):
        token = badges.sign_claims({**claims, field: value}, key)
        with pytest.raises(badges.BadgeError) as exc:
            badges.verify_badge(token)
        assert exc.value.code == "claims_mismatch", field
    token = badges.sign_claims({**claims, "name": "导师证"}, key)  # the top-level copy differs from vc
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(token)
    assert exc.value.code == "claims_mismatch"


@pytest.mark.django_db
def test_validity_period(world):
    today = timezone.localdate()
    three_years_ago = today - datetime.timedelta(days=3 * 366 + 2)
    expired = make_certificate(world, number=numbered("330106202300000011"), issued_on=three_years_ago)
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(badges.export_badge(expired))
    assert exc.value.code == "expired" and exc.value.credential["credentialSubject"]["licenseNumber"] == expired.number
    future = make_certificate(world, number=numbered("330106202600000033"),
                              issued_on=today + datetime.timedelta(days=2))
    token = badges.export_badge(future)
    with pytest.raises(badges.BadgeError) as exc:
        badges.verify_badge(token)
    assert exc.value.code == "not_yet_valid"
    later = badges.verify_badge(token, now=time.time() + 3 * 86400)
    assert later["credentialSubject"]["licenseNumber"] == future.number


@pytest.mark.django_db
def test_key_rotation_keeps_old_badges_verifiable(world):
    cert = make_certificate(world)
    before = badges.export_badge(cert)
    old_kid = signing.active_payload_key().kid

    new = signing.rotate_payload_key(None)
    assert new.kid != old_kid
    assert SigningKey.objects.get(kid=old_kid).retired_at is not None
    assert badges.verify_badge(before)["credentialSubject"]["licenseNumber"] == NUMBER  # retired key verifies
    after = badges.export_badge(cert)
    assert segments(after)[0]["kid"].endswith("#" + new.kid)
    assert badges.check_badge(after).kid == new.kid
    kids = {k["kid"]: k for k in signing.public_jwks()["keys"]}
    assert set(kids) == {old_kid, new.kid} and "retired_at" in kids[old_kid] and "retired_at" not in kids[new.kid]
    # offline, against the published keys: both verify
    assert badges.verify_badge(before, signing.public_jwks()) == badges.verify_badge(after, signing.public_jwks())


# ------------------------------------------------------------------ the commands


@pytest.mark.django_db
def test_verify_badge_command_offline_with_a_jwks_file(world, tmp_path):
    cert = make_certificate(world)
    token = badges.export_badge(cert)
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(signing.public_jwks()))
    good = tmp_path / f"{cert.number}.jwt"
    good.write_text(token + "\n")

    code, out, err = run("verify_badge", str(good), "--keys", str(keys))
    assert code == 0, err
    assert "signature OK" in out and NUMBER in out and "张**" in out and "救护员取证培训" in out
    assert signing.active_payload_key().kid in out and FULL_NAME not in out

    header, claims, sig = segments(token)
    claims["credentialSubject"]["licenseNumber"] = numbered("330106202600000025")
    bad = tmp_path / "tampered.jwt"
    bad.write_text(reencode(header, claims, sig))
    code, out, err = run("verify_badge", str(bad), "--keys", str(keys))
    assert code == 1 and "signature" in err and "signature OK" not in out

    # the JWT as the argument; a JWKS without the key: unknown key
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"keys": []}))
    code, _out, err = run("verify_badge", token, "--keys", str(empty))
    assert code == 1 and "unknown_key" in err


@pytest.mark.django_db
def test_verify_badge_command_with_the_database_status(world, tmp_path):
    cert = make_certificate(world)
    path = tmp_path / "badge.jwt"
    path.write_text(badges.export_badge(cert))
    code, out, _err = run("verify_badge", str(path), "--db")
    assert code == 0 and "valid (database" in out
    Certificate.objects.filter(pk=cert.pk).update(revoked_at=timezone.now(), revoked_reason="测试")
    code, out, err = run("verify_badge", str(path), "--db")
    assert code == 1 and "signature OK" in out and "revoked" in err


@pytest.mark.django_db
def test_rotate_signing_key_command(world):
    old = signing.active_payload_key()
    code, out, _err = run("rotate_signing_key")
    assert code == 0
    new = signing.active_payload_key()
    assert new.kid != old.kid and f"retired: {old.kid}" in out and f"active:  {new.kid}" in out
    assert SigningKey.objects.filter(purpose="payload").count() == 2


# ------------------------------------------------------------------ the views


@pytest.mark.django_db
def test_keys_and_issuer_profile_are_public(world, settings):
    settings.LMS_BASE_URL = "https://jiuhu.example.cn"
    old = signing.active_payload_key()
    new = signing.rotate_payload_key(None)
    client = Client()
    resp = client.get("/certificates/keys.json")
    assert resp.status_code == 200 and resp["Access-Control-Allow-Origin"] == "*"
    assert "max-age=300" in resp["Cache-Control"]
    keys = {k["kid"]: k for k in resp.json()["keys"]}
    assert set(keys) == {old.kid, new.kid} and all(k["kty"] == "OKP" and "d" not in k for k in keys.values())
    assert "retired_at" in keys[old.kid]

    resp = client.get(reverse("certificates:issuer_profile"))
    assert resp.status_code == 200 and resp["Access-Control-Allow-Origin"] == "*"
    profile = resp.json()
    assert profile["id"] == "https://jiuhu.example.cn/certificates/issuer.json" and profile["type"] == ["Profile"]
    assert profile["name"] == "中国红十字会"
    assert profile["jwks_uri"] == "https://jiuhu.example.cn/certificates/keys.json"
    assert {m["id"] for m in profile["verificationMethod"]} == {badges.key_url(old.kid), badges.key_url(new.kid)}

    resp = client.get("/certificates/achievements/first-aider")
    assert resp.status_code == 200 and resp.json()["id"] == badges.achievement_id("first-aider")
    assert client.get("/certificates/achievements/nothing").status_code == 404
    assert client.post("/certificates/keys.json").status_code == 405


@pytest.mark.django_db
def test_badge_download_for_the_holder_and_the_region_admins_only(world):
    cert = make_certificate(world)
    url = reverse("certificates:certificate_badge", kwargs={"pk": cert.pk})
    client = Client()
    assert client.get(url).status_code == 302  # anonymous: to the login page

    for who, expected in (("holder", 200), ("county_admin", 200), ("other", 404), ("sibling_admin", 404)):
        client.force_login(world[who])
        resp = client.get(url)
        assert resp.status_code == expected, who
    client.force_login(world["holder"])
    resp = client.get(url)
    assert resp["Content-Type"] == "application/vc+jwt"
    assert resp["Content-Disposition"] == f'attachment; filename="{NUMBER}.jwt"'
    assert badges.verify_badge(resp.content.decode())["credentialSubject"]["licenseNumber"] == NUMBER
    data = client.get(url, {"format": "json"}).json()
    assert data["credential"] == badges.verify_badge(data["jwt"])
    assert client.post(url).status_code == 405

    Certificate.objects.filter(pk=cert.pk).update(revoked_at=timezone.now(), revoked_reason="测试")
    assert client.get(url).status_code == 410


@pytest.mark.django_db
def test_verify_badge_command_asks_the_verification_api_online(world, tmp_path, monkeypatch, settings):
    """--online GETs credentialStatus.id (the public API); here answered by the site in-process."""
    from urllib.parse import urlsplit

    from certificates.management.commands import verify_badge

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                   "LOCATION": "badges-online"}}
    client = Client()
    asked = []

    class Answer(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def urlopen(request, timeout):
        asked.append(request.full_url)
        resp = client.get(urlsplit(request.full_url).path, HTTP_ACCEPT="application/json")
        assert resp.status_code == 200, resp.content
        return Answer(resp.content)

    monkeypatch.setattr(verify_badge.urllib.request, "urlopen", urlopen)
    cert = make_certificate(world)
    path = tmp_path / "badge.jwt"
    path.write_text(badges.export_badge(cert))
    code, out, err = run("verify_badge", str(path), "--online")
    assert code == 0, err
    assert asked == [badges.status_url(NUMBER)] and "valid (online" in out
    Certificate.objects.filter(pk=cert.pk).update(revoked_at=timezone.now(), revoked_reason="测试")
    code, out, err = run("verify_badge", str(path), "--online")
    assert code == 1 and "revoked" in err


@pytest.mark.django_db
def test_rotate_signing_key_command_for_the_document_key(world):
    code, out, _err = run("rotate_signing_key", "--purpose", "document")
    assert code == 0
    new = SigningKey.objects.get(purpose="document", retired_at__isnull=True)
    assert f"active:  {new.kid}" in out
    code, out, _err = run("rotate_signing_key", "--purpose", "document")
    assert code == 0 and f"retired: {new.kid}" in out
    assert not SigningKey.objects.filter(purpose="payload").exists()  # the payload key is left alone
