"""The certificate as a PDF: rendered with WeasyPrint, signed (PAdES, ``document_keys``), kept.

**Layouts.** ``a4``: one A4 page (the certificate to frame or file); ``card``: the wallet card,
85.6 × 54 mm, front (photo, name, masked ID number, number, expiry) and back (programme, class hours,
instructors, examiner, issuing organisation, dates, QR code). Both print every printed field of the
certificate as printed (``Certificate``'s fields, not the person's record today), the holder's photo
(or a box saying 照片), and a QR code of the verification URL with the signed payload
(``qr_url``: ``LMS_BASE_URL/v/<payload>``, ``certificates.signing``), with the line telling how to
check it without the code (扫码或登录 …/verify/ 输入证书编号验证). The labels are document content in
Chinese, not UI strings. The template and CSS are ``certificates/templates/certificates/pdf/``; the
font is Noto CJK (Debian ``fonts-noto-cjk``, found by fontconfig), subset into each PDF by HarfBuzz.
Nothing is fetched over the network: a document loads only its own images (the photo and the QR code,
served from memory under ``cert:`` URLs by ``local_fetcher``), ``data:`` URIs and files of the
template folder.

**Speed** (``certificates/bench/pdf.py``): WeasyPrint is the cost. Measured, and what was done:

- per document, not per page: parsing the stylesheet, loading the fonts, subsetting them (HarfBuzz,
  ``libharfbuzz-subset0``), writing the file. The stylesheet and the font configuration are made once
  per thread and reused; two font faces only (each face embedded costs about 30 ms and 100-150 KB:
  WeasyPrint keeps glyph ids, so a subset of a CJK font still carries tables as long as the font);
  and a class is rendered as few documents (``BUNDLE_CHUNK`` certificates each, which also bounds the
  memory of a run), merged into the bundle. The class's individual PDFs (the zip, each holder's
  download) are cut from those pages (pypdf, each with only its own images) and signed one by one,
  instead of one render each: 1.3 to 1.7 yardsticks a certificate instead of 3 to 4 (``certificates.bench.pdf``).
- per page: the layout. Blocks and absolute positions with explicit widths lay out in one pass;
  tables and flex boxes (the first version) measured their content several times, about five times the
  cost. The QR code is a PNG of one pixel per module drawn unsmoothed (its SVG path cost some 30 ms a
  page); the images are loaded from memory, not parsed out of the HTML as base64.
- the signature: the room for it is given (``document_keys.SIGNATURE_BYTES``), which spares pyHanko a
  trial signature per document.

**Kept.** ``render_and_store`` (the background task after issue) stores the signed A4 PDF of the
current revision in ``Certificate.pdf`` (``<number>-r<revision>.pdf``, with ``pdf_revision`` and
``pdf_sha256``); ``render_bundle`` (after a class issue job) stores the class as one signed PDF and as
a zip of the individual signed PDFs in ``IssueJob.bundle_pdf``/``bundle_zip``, and keeps each
certificate's PDF cut from it (the certificates' own tasks leave those of a class job to the bundle:
``left_to_the_bundle``). Downloads
(``certificate_pdf``, ``class_bundle``) serve what is kept when it is current and render it otherwise.
A class's bundle holds the class's current certificates (not revoked, not expired), in issue order,
whichever job issued them; the stored file's name carries a digest of the (number, revision) list, so
a later issue, a revocation or a name correction makes the download render it again.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import io
import logging
import math
import re
import threading
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.core.files.base import ContentFile
from django.template.loader import get_template
from django.utils import timezone

from . import signing
from .document_keys import active_document_key, rotate_document_key, sign_pdf  # noqa: F401 (public here)

log = logging.getLogger("certificates")

LAYOUTS = ("a4", "card")
TEMPLATE = "certificates/pdf/certificates.html"
TEMPLATE_DIR = Path(__file__).resolve().parent / "templates" / "certificates" / "pdf"
CSS_FILE = TEMPLATE_DIR / "certificate.css"
PHOTO_PX = (330, 440)  # 3:4, about 250 dpi at the A4 photo's 33 × 44 mm
# Characters: a smaller type for long printed values (up to the fields' maximum lengths), so that a
# certificate always fits its page.
LONG, VERY_LONG, XL = 24, 60, 120
BUNDLE_CHUNK = 50  # certificates per WeasyPrint document of a class's bundle (about 200 MB of memory per run)


# ------------------------------------------------------------------ WeasyPrint, reused

_local = threading.local()
RESOURCE_SCHEME = "cert"  # cert:<kind>/<id>: the photos and QR codes of the document being rendered


def _weasy():
    """(stylesheet, font configuration) of this thread, made once and reused (WeasyPrint's objects are not
    shared between threads)."""
    made = getattr(_local, "weasy", None)
    if made is None:
        import weasyprint
        from weasyprint.text.fonts import FontConfiguration

        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)  # a line per step and page otherwise
        fonts = FontConfiguration()
        css = weasyprint.CSS(string=CSS_FILE.read_text(encoding="utf-8"), font_config=fonts,
                             url_fetcher=local_fetcher(), base_url=TEMPLATE_DIR.as_uri() + "/")
        made = _local.weasy = (css, fonts)
    return made


def local_fetcher(resources: dict[str, tuple[bytes, str]] | None = None):
    """A WeasyPrint URL fetcher that serves ``resources`` (``cert:`` URL -> (bytes, content type)),
    ``data:`` URIs and the template folder's files, and refuses everything else: a certificate never
    makes a network request, whatever its printed values contain."""
    from urllib.parse import unquote, urlsplit

    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class LocalOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            scheme = url.split(":", 1)[0].lower()
            if scheme == RESOURCE_SCHEME and resources and url in resources:
                body, content_type = resources[url]
                return URLFetcherResponse(url, body, {"Content-Type": content_type})
            if scheme == "data":
                return super().fetch(url, headers)
            if scheme == "file" and Path(unquote(urlsplit(url).path)).resolve().is_relative_to(TEMPLATE_DIR):
                return super().fetch(url, headers)
            raise ValueError(f"certificate PDFs load no external resources: {url[:80]}")

    return LocalOnlyFetcher()


# ------------------------------------------------------------------ what is printed

def format_date(day: datetime.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def format_hours(hours) -> str:
    value = Decimal(str(hours or 0))
    text = str(value.quantize(Decimal(1))) if value == value.to_integral_value() else str(value.normalize())
    return f"{text} 学时"


def verify_page_url() -> str:
    return settings.LMS_BASE_URL + "/verify/"


def qr_url(certificate, key=None) -> str:
    """The URL the QR code encodes: the public verification page with the signed payload."""
    key = key or signing.active_payload_key()
    return settings.LMS_BASE_URL + "/v/" + signing.sign_payload(signing.payload_for(certificate, key), key)


QR_MASK = 1
QR_PX = 8


@functools.lru_cache(maxsize=1024)
def qr_png(url: str) -> bytes:
    """The QR code of ``url``: a PNG of ``QR_PX`` pixels per module, drawn without smoothing (CSS
    ``image-rendering: pixelated``): as crisp as a vector code and far cheaper for WeasyPrint than an SVG
    path. (One pixel per module, scaled up by the viewer, read badly from a page shown at 150 dpi: module
    edges land unevenly.) Error correction M (15 %); a 250-character URL makes a version 11 code
    (61 modules), 0.5 mm a module on the A4 page (30 mm), 0.4 mm on the card (24 mm).

    The mask pattern is fixed (``QR_MASK``, the one segno's penalty rules choose most often for these
    URLs) instead of scored for each code: scoring the eight patterns is 20 ms of pure Python, a sixth of
    a certificate in a class's bundle, and any pattern is valid (the code says which one it uses; every code
    of the benchmark's class of 200 reads with zbarimg from its page rasterised at 150 dpi; at 100 dpi,
    where the modules are under 2 pixels, 172 of 200 read, and 171 with the scored masks). Codes are also kept
    per process: the payload's signature is deterministic (Ed25519)."""
    import segno

    buf = io.BytesIO()
    segno.make(url, error="m", micro=False, mask=QR_MASK).save(buf, kind="png", scale=QR_PX, border=0)
    return buf.getvalue()


def photo_jpeg(holder) -> bytes | None:
    """The holder's photo, upright, cropped to 3:4 and scaled for print (330 × 440 px, about 250 dpi on
    the A4 page), as JPEG; None without a (readable) photo."""
    photo = getattr(holder, "photo", None) if holder is not None else None
    if not photo:
        return None
    from PIL import Image, ImageOps

    try:
        with photo.open("rb") as f, Image.open(f) as image:
            image.draft("RGB", (PHOTO_PX[0] * 2, PHOTO_PX[1] * 2))  # JPEG: decode at a reduced scale
            image = ImageOps.exif_transpose(image).convert("RGB")
            image = ImageOps.fit(image, PHOTO_PX, Image.Resampling.BILINEAR)  # Pillow's resize filters the area
            buf = io.BytesIO()
            image.save(buf, "JPEG", quality=88)
    except (OSError, ValueError, Image.DecompressionBombError):
        log.warning("the photo of user %s could not be read for the certificate", getattr(holder, "pk", None))
        return None
    return buf.getvalue()


# The A4 page's geometry, for Printed.density (mm, measured in WeasyPrint's layout of the template): the
# fields start 96.7 below the top of the frame (75.1 when compact); the statement after them takes 19.2
# (12.2 when compact); the foot begins at 228, and 3 mm are kept clear above it.
_ROOM = {"": 228 - 3 - 19.2 - 96.7, "compact": 228 - 3 - 12.2 - 75.1, "compact tight": 228 - 3 - 12.2 - 75.1}
_PAD = {"": 2.1, "compact": 1.4, "compact tight": 1.0}
_NORMAL = {"": (12.5, 1.448), "long": (10.5, 1.448), "verylong": (8, 1.4), "xl": (7, 1.35)}
_TYPE = {  # density -> (value class -> (pt, line height)), (name class -> (pt, line height))
    "": (_NORMAL, {"": (17, 1.437), "long": (13, 1.437), "verylong": (10, 1.437), "xl": (10, 1.437)}),
    "compact": (_NORMAL, {"": (17, 1.437), "long": (13, 1.437), "verylong": (10, 1.437), "xl": (10, 1.437)}),
    "compact tight": ({"": (10.5, 1.3), "long": (8.5, 1.3), "verylong": (7, 1.3), "xl": (6, 1.3)},
                      {"": (14, 1.3), "long": (11, 1.3), "verylong": (9, 1.3), "xl": (9, 1.3)}),
}
_PT_MM = 25.4 / 72
FIELD_WIDTH_MM = 112.6 - 29  # the value column of the A4 page's fields


def _lines(text: str, pt: float, spacing_em: float = 0.0) -> int:
    """Lines ``text`` takes in the value column at ``pt``: CJK characters one em wide, others taken as
    0.62 em (Noto's digits and Latin letters are narrower), plus letter spacing."""
    ems = sum(1.0 if ord(ch) >= 0x2E80 else 0.62 for ch in text) + spacing_em * len(text)
    return max(1, math.ceil(ems * pt * _PT_MM / FIELD_WIDTH_MM))


def _size_class(text: str, long: int = LONG, very_long: int = VERY_LONG, xl: int = XL) -> str:
    n = len(text or "")
    return "xl" if n > xl else "verylong" if n > very_long else "long" if n > long else ""


@dataclass(frozen=True)
class Printed:
    """A certificate's page(s), as the template prints them."""

    title: str
    holder_name: str
    id_card: str
    programme: str
    hours: str
    issued: str
    expires: str
    issuer: str
    instructors: str
    examiner: str
    number: str
    qr_url: str  # what the QR code encodes
    qr: str  # the image's URL in the document (cert:qr/…)
    photo: str  # the image's URL in the document (cert:photo/…), "" without a photo
    verify_page: str
    resources: dict  # cert: URL -> (bytes, content type)

    @property
    def programme_class(self) -> str:
        return _size_class(self.programme)

    @property
    def instructors_class(self) -> str:
        return _size_class(self.instructors)

    @property
    def issuer_class(self) -> str:
        return _size_class(self.issuer)

    @property
    def name_class(self) -> str:
        return _size_class(self.holder_name, 8, 16, 32)

    @property
    def examiner_class(self) -> str:
        return _size_class(self.examiner)

    @property
    def issuer_sign_class(self) -> str:  # the organisation's name above the date, at the foot of the A4 page
        return _size_class(self.issuer, 14, 18, 44)

    def fields_height_mm(self, density: str = "") -> float:
        """The height of the A4 page's list of fields, estimated from the values (how many lines each takes
        at its type size; within a millimetre of WeasyPrint's layout for the cases measured)."""
        rows = [(self.id_card or "—", ""), (self.programme, self.programme_class), (self.hours, ""),
                (self.instructors or "—", self.instructors_class), (self.examiner or "—", self.examiner_class),
                (self.issuer, self.issuer_class), (self.issued, ""), (self.expires, ""), (self.number, "")]
        sizes, name_sizes = _TYPE[density]
        pad = _PAD[density]
        total = 0.0
        for text, size_class in rows:
            pt, line_height = sizes[size_class]
            total += _lines(text, pt) * pt * _PT_MM * line_height + 2 * pad + 0.2
        pt, line_height = name_sizes[self.name_class]
        total += _lines(self.holder_name, pt, 0.15) * pt * _PT_MM * line_height + 2 * (pad if density else 0.6) + 0.2
        return total

    @property
    def density(self) -> str:
        """The A4 page's CSS class for its values: "" (most), "compact" (less air), "compact tight" (smaller
        type too): the first whose fields end above the statement and the foot."""
        for density, room in _ROOM.items():
            if self.fields_height_mm(density) <= room:
                return density
        return "compact tight"


def _holder(certificate):
    try:
        return certificate.holder
    except ObjectDoesNotExist:
        return None


def printed(certificate, payload_key=None, *, index: int = 0) -> Printed:
    """What the PDF prints of ``certificate``: its printed fields (as printed), the holder's photo and the
    QR code of the signed verification URL. ``index``: its place in the document (names its images)."""
    url = qr_url(certificate, payload_key)
    resources = {f"{RESOURCE_SCHEME}:qr/{index}": (qr_png(url), "image/png")}
    photo = photo_jpeg(_holder(certificate))
    if photo is not None:
        resources[f"{RESOURCE_SCHEME}:photo/{index}"] = (photo, "image/jpeg")
    return Printed(
        title=certificate.title, holder_name=certificate.holder_name, id_card=certificate.id_card_masked,
        programme=certificate.programme_name, hours=format_hours(certificate.class_hours),
        issued=format_date(certificate.issued_on), expires=format_date(certificate.expires_on),
        issuer=certificate.issuer_name, instructors=certificate.instructor_names,
        examiner=certificate.examiner_name, number=certificate.number, qr_url=url,
        qr=f"{RESOURCE_SCHEME}:qr/{index}", photo=f"{RESOURCE_SCHEME}:photo/{index}" if photo else "",
        verify_page=verify_page_url(), resources=resources)


# ------------------------------------------------------------------ rendering

def render_html(certificates, layout: str = "a4", *, title: str = "") -> tuple[str, dict]:
    """(HTML, resources) of a document of ``certificates`` in ``layout``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    key = signing.active_payload_key()
    pages = [printed(c, key, index=i) for i, c in enumerate(certificates)]
    if not title:
        title = f"{pages[0].title} {pages[0].number}" if len(pages) == 1 else "证书"
    html = get_template(TEMPLATE).render({"certificates": pages, "layout": layout, "document_title": title,
                                          "author": pages[0].issuer if pages else ""})
    resources = {}
    for page in pages:
        resources.update(page.resources)
    return html, resources


def html_to_pdf(html: str, resources: dict | None = None) -> bytes:
    """``html`` as a PDF with the certificates' stylesheet and fonts (reused); it may load ``resources``
    and nothing external."""
    import weasyprint

    css, fonts = _weasy()
    document = weasyprint.HTML(string=html, url_fetcher=local_fetcher(resources),
                               base_url=TEMPLATE_DIR.as_uri() + "/")
    return document.write_pdf(stylesheets=[css], font_config=fonts)


def render_document(certificates, layout: str = "a4", *, title: str = "") -> bytes:
    """Several certificates as ONE unsigned PDF (A4: a page each; card: front and back each)."""
    certificates = list(certificates)
    if not certificates:
        raise ValueError("no certificates to render")
    html, resources = render_html(certificates, layout, title=title)
    return html_to_pdf(html, resources)


def render_pdf(certificate, layout: str = "a4") -> bytes:
    """One certificate's PDF, unsigned (``sign_pdf`` signs it)."""
    return render_document([certificate], layout)


def split_pages(pdf_bytes: bytes, per_document: int = 1) -> list[bytes]:
    """A multi-page PDF cut into PDFs of ``per_document`` pages each. WeasyPrint gives all pages one
    resource dictionary (every image of the document), so each part gets its own, with only the images
    its pages draw: a certificate cut from a class's bundle carries its own photo, not the class's."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import DictionaryObject, NameObject

    reader = PdfReader(io.BytesIO(pdf_bytes))
    metadata = {k: v for k, v in (reader.metadata or {}).items() if k in ("/Producer", "/Creator", "/Author")}
    out = []
    for start in range(0, len(reader.pages), per_document):
        writer = PdfWriter()
        for page in reader.pages[start:start + per_document]:
            resources = page.get("/Resources")
            xobjects = resources.get_object().get("/XObject") if resources is not None else None
            if xobjects:
                xobjects = xobjects.get_object()
                contents = page.get_contents()
                used = set(_DRAWN.findall(contents.get_data() if contents is not None else b""))
                kept = {k: v for k, v in xobjects.items() if k[1:].encode() in used}
                # Only images are filtered; a form (which may draw others through the shared dictionary)
                # keeps everything.
                if all(v.get_object().get("/Subtype") == "/Image" for v in kept.values()):
                    own = DictionaryObject({NameObject(k): v for k, v in resources.get_object().items()})
                    own[NameObject("/XObject")] = DictionaryObject({NameObject(k): v for k, v in kept.items()})
                    page[NameObject("/Resources")] = own
            writer.add_page(page)
        if metadata:
            writer.add_metadata(metadata)
        buf = io.BytesIO()
        writer.write(buf)
        out.append(buf.getvalue())
    return out


_DRAWN = re.compile(rb"/([^\s/\[\]()<>{}%]+)\s+Do\b")


# ------------------------------------------------------------------ kept and served

def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _store(certificate, signed: bytes) -> bool:
    """Keep ``signed`` as the certificate's PDF of its current revision. False if the certificate changed
    revision meanwhile (the file is not kept; the new revision's PDF is made by its own task)."""
    from .models import Certificate

    field = certificate.pdf
    filename = field.field.generate_filename(certificate, f"{certificate.number}-r{certificate.revision}.pdf")
    name = field.storage.save(filename, ContentFile(signed))
    old = certificate.pdf.name if certificate.pdf else ""
    updated = Certificate.objects.filter(pk=certificate.pk, revision=certificate.revision).update(
        pdf=name, pdf_revision=certificate.revision, pdf_sha256=_sha256(signed))
    if not updated:
        field.storage.delete(name)
        return False
    if old and old != name:
        try:
            field.storage.delete(old)  # the earlier revision's or a rendering that lost a race
        except OSError:
            log.warning("could not delete the replaced certificate PDF %s", old)
    certificate.pdf.name, certificate.pdf_revision, certificate.pdf_sha256 = name, certificate.revision, _sha256(signed)
    return True


def _stored(certificate) -> bytes | None:
    """The kept PDF if it is of the current revision and unchanged on disk, else None."""
    if not certificate.pdf_is_current:
        return None
    try:
        with certificate.pdf.open("rb") as f:
            data = f.read()
    except (OSError, ValueError):
        log.warning("the PDF of certificate %s is missing: rendering it again", certificate.number)
        return None
    if certificate.pdf_sha256 and _sha256(data) != certificate.pdf_sha256:
        log.error("the kept PDF of certificate %s does not match its digest: rendering it again", certificate.number)
        return None
    return data


def _certificates():
    from .models import Certificate

    return Certificate.objects.select_related("holder", "programme")


def render_and_store(certificate_id: int):
    """Render, sign and keep the A4 PDF of a certificate's current revision (the task after issue).
    Does nothing when the kept PDF is current, or when the certificate's class issue job will cut it from
    the class's bundle (``left_to_the_bundle``). Returns the certificate."""
    certificate = _certificates().get(pk=certificate_id)
    if certificate.pdf_is_current or left_to_the_bundle(certificate):
        return certificate
    _store(certificate, sign_pdf(render_pdf(certificate, "a4")))
    return certificate


def left_to_the_bundle(certificate) -> bool:
    """Whether a certificate's own PDF task should leave it to its class's bundle: it was issued by a class
    issue job that is still running, or done with its bundle not yet made (``render_bundle`` is queued
    after the job and cuts every certificate of the class from the bundle's pages: half the work of
    rendering each alone first). Should the bundle never come, the PDF is made at its first download."""
    from .models import Certificate, IssueJob

    if certificate.source != Certificate.Source.CLASS or certificate.training_class_id is None:
        return False
    jobs = IssueJob.objects.filter(training_class_id=certificate.training_class_id)
    return (jobs.filter(status__in=[IssueJob.Status.QUEUED, IssueJob.Status.RUNNING]).exists()
            or jobs.filter(status=IssueJob.Status.DONE, bundle_pdf="",
                           finished_at__gte=certificate.created_at).exists())


def certificate_pdf(certificate, layout: str = "a4") -> bytes:
    """The signed PDF for download: the kept one (A4, current), else rendered and signed now (and kept,
    for A4). The card is rendered on demand."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown layout {layout!r}")
    if layout == "a4":
        data = _stored(certificate)
        if data is not None:
            return data
    signed = sign_pdf(render_pdf(certificate, layout))
    if layout == "a4":
        _store(certificate, signed)
    return signed


def download_filename(certificate, layout: str = "a4") -> str:
    suffix = "-卡" if layout == "card" else ""
    return f"{certificate.title or '证书'}-{certificate.number}{suffix}.pdf"


# ------------------------------------------------------------------ a class

def class_certificates(training_class):
    """The certificates a class's bundle holds: current (not revoked, not expired), in issue order."""
    return _certificates().filter(training_class=training_class).current().order_by("pk")


def _digest(certificates) -> str:
    return hashlib.sha256(";".join(f"{c.number}:{c.revision}" for c in certificates).encode()).hexdigest()[:12]


def _bundle_names(job, digest: str) -> tuple[str, str]:
    base = f"class-{job.training_class_id}-job{job.pk}-{digest}"
    return base + ".pdf", base + ".zip"


def _bundle_current(job, digest: str) -> bool:
    pdf_name, zip_name = _bundle_names(job, digest)
    return (bool(job.bundle_pdf) and Path(job.bundle_pdf.name).name.startswith(pdf_name[:-4])
            and bool(job.bundle_zip) and Path(job.bundle_zip.name).name.startswith(zip_name[:-4]))


def _zip(certificates, pdfs: list[bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        seen = set()
        for certificate, data in zip(certificates, pdfs):
            name = f"{certificate.title or '证书'}-{certificate.number}-{certificate.holder_name}.pdf"
            name = name.replace("/", "_").replace("\\", "_")
            if name in seen:
                name = name[:-4] + f"-{certificate.pk}.pdf"
            seen.add(name)
            info = zipfile.ZipInfo(name, date_time=timezone.localtime().timetuple()[:6])
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
    return buf.getvalue()


@dataclass
class Bundle:
    pdf: bytes
    zip: bytes
    count: int


def merge_pdfs(documents: list[bytes]) -> bytes:
    """PDFs one after the other, as one."""
    if len(documents) == 1:
        return documents[0]
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    readers = [PdfReader(io.BytesIO(d)) for d in documents]
    for reader in readers:
        writer.append(reader)
    if readers[0].metadata:
        writer.add_metadata({k: v for k, v in readers[0].metadata.items() if k in ("/Title", "/Author", "/Creator",
                                                                                    "/Producer")})
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def make_bundle(certificates, *, title: str = "", keep: bool = True) -> Bundle:
    """The certificates as one signed PDF (a page each) and a zip of their individual signed PDFs.

    The class is rendered ``BUNDLE_CHUNK`` certificates per WeasyPrint document (the memory of a run grows
    with its pages), the documents merged into the bundle. The individual PDFs not yet kept (or not
    current) are cut from those pages, signed and (``keep``) kept."""
    certificates = list(certificates)
    if not certificates:
        raise ValueError("no certificates")
    key = active_document_key()
    individual: list[bytes | None] = [_stored(c) if keep else None for c in certificates]
    documents = []
    for start in range(0, len(certificates), BUNDLE_CHUNK):
        chunk = certificates[start:start + BUNDLE_CHUNK]
        document = render_document(chunk, "a4", title=title)
        documents.append(document)
        if None not in individual[start:start + len(chunk)]:
            continue
        pages = split_pages(document)
        if len(pages) != len(chunk):  # a page overflowed: never pair a page with the wrong person
            log.warning("class bundle: %s pages for %s certificates; rendering them one by one", len(pages), len(chunk))
            pages = [render_pdf(c, "a4") for c in chunk]
        for i in range(start, start + len(chunk)):
            if individual[i] is None:
                individual[i] = sign_pdf(pages[i - start], key)
                if keep:
                    _store(certificates[i], individual[i])
    return Bundle(pdf=sign_pdf(merge_pdfs(documents), key), zip=_zip(certificates, individual),
                  count=len(certificates))


def render_bundle(job_id: int):
    """A class issue job's bundle (the task after the job): the class's current certificates as one signed
    PDF and a zip, kept in ``job.bundle_pdf``/``bundle_zip``. Does nothing when they are current.
    Returns the job."""
    from .models import IssueJob

    job = IssueJob.objects.select_related("training_class").get(pk=job_id)
    certificates = list(class_certificates(job.training_class))
    if not certificates:
        return job
    digest = _digest(certificates)
    if _bundle_current(job, digest):
        return job
    bundle = make_bundle(certificates, title=f"{job.training_class.name} {certificates[0].title}")
    pdf_name, zip_name = _bundle_names(job, digest)
    storage = job.bundle_pdf.storage
    old = [f.name for f in (job.bundle_pdf, job.bundle_zip) if f]
    pdf_path = storage.save(job.bundle_pdf.field.generate_filename(job, pdf_name), ContentFile(bundle.pdf))
    zip_path = storage.save(job.bundle_zip.field.generate_filename(job, zip_name), ContentFile(bundle.zip))
    IssueJob.objects.filter(pk=job.pk).update(bundle_pdf=pdf_path, bundle_zip=zip_path)
    job.bundle_pdf.name, job.bundle_zip.name = pdf_path, zip_path
    for name in old:
        if name not in (pdf_path, zip_path):
            try:
                storage.delete(name)
            except OSError:
                log.warning("could not delete the replaced class bundle %s", name)
    return job


def class_bundle(training_class, kind: str = "pdf") -> tuple[bytes, str] | None:
    """(data, file name) of a class's certificates as one PDF (``kind="pdf"``) or a zip (``"zip"``), or
    None when the class has no current certificates. The latest done issue job's kept bundle when it is
    current, else made now (and kept on that job)."""
    from .models import IssueJob

    if kind not in ("pdf", "zip"):
        raise ValueError(kind)
    certificates = list(class_certificates(training_class))
    if not certificates:
        return None
    filename = f"{training_class.name}-{certificates[0].title or '证书'}.{kind}".replace("/", "_").replace("\\", "_")
    job = training_class.issue_jobs.filter(status=IssueJob.Status.DONE).order_by("-requested_at", "-pk").first()
    if job is not None:
        job = render_bundle(job.pk)
        field = job.bundle_pdf if kind == "pdf" else job.bundle_zip
        if field:
            with field.open("rb") as f:
                return f.read(), filename
    bundle = make_bundle(certificates, title=f"{training_class.name} {certificates[0].title}")
    return (bundle.pdf if kind == "pdf" else bundle.zip), filename
