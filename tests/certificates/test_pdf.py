"""The certificate PDF (certificates/pdf.py, certificates/document_keys.py, certificates/views_pdf.py):
every printed field on the A4 page and on the card, the QR code's signed verification URL, the PAdES
signature (intact, covering the whole file, failing when a byte changes), the PDF kept per revision,
a class as one PDF and as a zip, and who may download what."""

from __future__ import annotations

import datetime
import hashlib
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from certificates import api, pdf, signing
from certificates.document_keys import active_document_key, rotate_document_key
from certificates.models import Certificate, SigningKey
from courses.models import Programme
from lms.models import AuditLog, User
from tests.certificates.support import certified, site  # noqa: F401

pytestmark = pytest.mark.django_db


def _text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def _jpeg() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 400), (90, 120, 170)).save(buf, "JPEG")
    return buf.getvalue()


def _certificate(**fields) -> Certificate:
    """An unsaved certificate with every printed field (rendering needs nothing else)."""
    holder = User(username="pdf-holder", real_name="欧阳建华")
    holder.photo = ContentFile(_jpeg(), name="holder.jpg")
    values = dict(number="3301062026123456786", holder=holder, programme=Programme(code="pdf-test", name="救护员"),
                  title="救护员证", holder_name="欧阳建华", id_card_masked="330***********1234",
                  programme_name="救护员培训（初级）", class_hours=Decimal("16.0"), issuer_name="西湖区培训基地",
                  instructor_names="王老师、李老师", examiner_name="李考官", issued_on=datetime.date(2026, 3, 8),
                  expires_on=datetime.date(2029, 3, 7), revision=1)
    values.update(fields)
    return Certificate(**values)


def _validate(data: bytes, key=None):
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    key = key or active_document_key()
    trusted = next(iter(load_certs_from_pemder_data(key.certificate_pem.encode())))
    signatures = PdfFileReader(io.BytesIO(data), strict=False).embedded_signatures
    assert len(signatures) == 1
    return signatures[0], validate_pdf_signature(signatures[0], ValidationContext(trust_roots=[trusted]))


def test_every_printed_field_is_on_the_page_and_the_signature_shows_it_unaltered(settings):
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    settings.LMS_BASE_URL = "https://jiuhu.example.cn"
    cert = _certificate()
    a4 = pdf.render_pdf(cert, "a4")
    (page,) = _text(a4)
    for spaced in ("中国红十字会", "救护员证"):  # set with wide tracking: extracted with spaces between
        assert spaced in page.replace(" ", ""), spaced
    for printed in ("欧阳建华", "330***********1234", "救护员培训（初级）", "16 学时",
                    "西湖区培训基地", "王老师、李老师", "李考官", "2026年3月8日", "2029年3月7日",
                    "3301062026123456786", "扫码或登录", "https://jiuhu.example.cn/verify/", "输入证书编号验证"):
        assert printed in page, printed
    reader = PdfReader(io.BytesIO(a4))
    fonts = [str(f.get_object()["/BaseFont"]) for f in reader.pages[0]["/Resources"]["/Font"].values()]
    assert all("+Noto-S" in f for f in fonts) and len(fonts) == 2  # subset Noto CJK, two faces
    assert len(reader.pages[0]["/Resources"]["/XObject"]) == 2  # the photo and the QR code
    front, back = _text(pdf.render_pdf(cert, "card"))
    for printed in ("欧阳建华", "330***********1234", "3301062026123456786", "2029年3月7日", "西湖区培训基地"):
        assert printed in front, printed
    for printed in ("救护员培训（初级）", "16 学时", "王老师、李老师", "李考官", "西湖区培训基地", "2026年3月8日"):
        assert printed in back, printed
    # The QR code: the verification URL with the payload signed by the site's payload key.
    url = pdf.qr_url(cert)
    assert url.startswith("https://jiuhu.example.cn/v/") and pdf.printed(cert).qr_url == url
    payload = signing.verify_payload(url, signing.site_keys())
    assert (payload.number, payload.name_masked, payload.id_card_masked) == (cert.number, "欧***", "330***********1234")
    # No photo: a box saying so. Class hours with a half hour.
    bare = _certificate(holder=User(username="no-photo"), class_hours=Decimal("12.5"))
    (page,) = _text(pdf.render_pdf(bare))
    assert "照片" in page and "12.5 学时" in page
    # The longest values the fields allow still fit: one A4 page, one card (two sides).
    longest = _certificate(holder_name="阿卜杜热合曼·买买提艾力" * 5, programme_name="救护员培训" * 25,
                           issuer_name="杭州市红十字会西湖区应急救护培训基地" * 7, instructor_names="王建国、" * 63,
                           examiner_name="欧阳司马诸葛上官慕容" * 6)
    assert len(_text(pdf.render_pdf(longest))) == 1 and len(_text(pdf.render_pdf(longest, "card"))) == 2
    assert pdf.printed(cert).density == "" and pdf.printed(longest).density == "compact tight"  # less air, smaller type
    # Nothing is fetched: only the document's own images, data: URIs and the template folder.
    with pytest.raises(ValueError):
        pdf.local_fetcher().fetch("https://example.com/tracker.png")
    with pytest.raises(ValueError):
        pdf.local_fetcher().fetch("file:///etc/passwd")

    # The PAdES signature: made with the document key (made on first use), intact, the whole file covered.
    signed = pdf.sign_pdf(a4)
    key = SigningKey.objects.get(purpose=SigningKey.Purpose.DOCUMENT, retired_at__isnull=True)
    assert key.algorithm == "ECDSA-P256" and "BEGIN CERTIFICATE" in key.certificate_pem
    assert "PRIVATE KEY" not in key.private_key_protected  # stored encrypted
    embedded, status = _validate(signed)
    assert status.intact and status.valid and status.trusted and status.bottom_line
    assert status.coverage == SignatureCoverageLevel.ENTIRE_FILE and status.docmdp_ok
    assert embedded.sig_object["/Reason"] == "证书签发"
    assert "中国红十字会应急救护证书签发" in embedded.signer_cert.subject.human_friendly
    assert _text(signed)[0] == _text(a4)[0]
    # One byte changed in the signed content: the signature no longer matches.
    at = signed.index(b"/MediaBox") + 12
    tampered = signed[:at] + bytes([signed[at] ^ 0x01]) + signed[at + 1:]
    _, status = _validate(tampered)
    assert not status.intact and not status.bottom_line
    # Rotation: a new key signs, the old one is retired (and what it signed stays valid), audited.
    new = rotate_document_key(None)
    key.refresh_from_db()
    assert key.retired_at is not None and new.kid != key.kid and active_document_key() == new
    assert AuditLog.objects.filter(action="certificates.document_key.rotate").exists()
    assert _validate(pdf.sign_pdf(a4), new)[1].bottom_line and _validate(signed, key)[1].bottom_line


def test_issued_certificates_are_kept_bundled_for_the_class_and_downloaded_by_who_may(
        certified, client, django_capture_on_commit_callbacks, monkeypatch):
    site = certified.site
    with django_capture_on_commit_callbacks(execute=False):
        job = api.start_class_issue(site.admin, site.cls)
    job = api.run_issue_job(job.pk)
    first, second = Certificate.objects.filter(training_class=site.cls).order_by("pk")
    assert job.issued == 2

    # The task after issue leaves a certificate of a class job to the class's bundle (queued after the job).
    pdf.render_and_store(first.pk)
    first.refresh_from_db()
    assert not first.pdf and pdf.left_to_the_bundle(first)

    # The class: one signed PDF (a page each) and a zip of the individual signed PDFs, cut from the bundle's
    # pages and kept. (One certificate a WeasyPrint document here: the bundle is merged from two.)
    monkeypatch.setattr(pdf, "BUNDLE_CHUNK", 1)
    job = pdf.render_bundle(job.pk)
    bundle = job.bundle_pdf.read()
    job.bundle_pdf.close()
    pages = _text(bundle)
    assert len(pages) == 2 and first.holder_name in pages[0] and second.holder_name in pages[1]
    assert _validate(bundle)[1].bottom_line
    with zipfile.ZipFile(job.bundle_zip.open("rb")) as z:
        names = z.namelist()
        members = [z.read(n) for n in names]
    job.bundle_zip.close()
    assert len(names) == 2 and all(n.endswith(".pdf") for n in names) and first.number in names[0]
    assert all(_validate(m)[1].bottom_line for m in members)
    own = _text(members[1])
    assert len(own) == 1 and second.holder_name in own[0] and first.holder_name not in own[0]
    assert len(PdfReader(io.BytesIO(members[1])).pages[0]["/Resources"]["/XObject"]) == 2  # its own images only
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.pdf_is_current and second.pdf_is_current and not pdf.left_to_the_bundle(first)
    assert first.pdf.name.endswith(f"{first.number}-r1.pdf")
    kept = first.pdf.read()
    first.pdf.close()
    assert kept == members[0] and hashlib.sha256(kept).hexdigest() == first.pdf_sha256
    assert first.holder_name in _text(kept)[0] and "王老师" in _text(kept)[0] and "李考官" in _text(kept)[0]
    pdf.render_and_store(first.pk)  # current: done once
    assert Certificate.objects.get(pk=first.pk).pdf.name == first.pdf.name
    assert pdf.class_bundle(site.cls, "zip")[0] == job.bundle_zip.open("rb").read()
    job.bundle_zip.close()

    # Downloads: the holder; the staff of the region; not another trainee; anonymous to the sign-in page.
    url = reverse("certificates:certificate_pdf", args=[first.pk])
    assert client.get(url)["Location"].startswith(reverse("lms:login"))
    client.force_login(first.holder)
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert response.content == kept
    title_encoded = "%E6%95%91%E6%8A%A4%E5%91%98%E8%AF%81"  # 救护员证, RFC 5987
    assert f"filename*=utf-8''{title_encoded}-{first.number}.pdf" in response["Content-Disposition"]
    card = client.get(url + "?layout=card")
    assert card.status_code == 200 and len(_text(card.content)) == 2
    assert client.post(url).status_code == 405
    assert client.get(reverse("certificates:certificate_pdf", args=[second.pk])).status_code == 404
    assert client.get(reverse("certificates:class_bundle_zip", args=[site.cls.pk])).status_code == 404
    client.force_login(certified.failed)
    assert client.get(url).status_code == 404
    client.force_login(site.admin)
    assert client.get(url).status_code == 200
    zipped = client.get(reverse("certificates:class_bundle_zip", args=[site.cls.pk]))
    assert zipped.status_code == 200 and zipped["Content-Type"] == "application/zip"
    whole = client.get(reverse("certificates:class_bundle_pdf", args=[site.cls.pk]))
    assert whole.status_code == 200 and whole.content == bundle
    assert client.get(reverse("certificates:class_bundle_pdf", args=[site.studio_cls.pk])).status_code == 404

    # A name correction (a new revision): its task makes the new PDF (the earlier one's file goes), the
    # class's bundle is made again on download; a revoked certificate's PDF is not served.
    old_name = first.pdf.name
    Certificate.objects.filter(pk=first.pk).update(revision=2, holder_name="张考声")
    pdf.render_and_store(first.pk)
    first.refresh_from_db()
    assert first.pdf.name.endswith("-r2.pdf") and first.pdf_revision == 2
    assert not first.pdf.storage.exists(old_name)
    corrected = client.get(url)
    assert "张考声" in _text(corrected.content)[0] and corrected.content == first.pdf.open("rb").read()
    first.pdf.close()
    assert "张考声" in _text(client.get(reverse("certificates:class_bundle_pdf", args=[site.cls.pk])).content)[0]
    Certificate.objects.filter(pk=second.pk).update(revoked_at=timezone.now())
    assert client.get(reverse("certificates:certificate_pdf", args=[second.pk])).status_code == 404
    assert len(_text(client.get(reverse("certificates:class_bundle_pdf", args=[site.cls.pk])).content)) == 1
