"""Certificate PDF benchmark: render and sign, per certificate and for a class of 200.

``python manage.py bench certificates`` (or ``certificates.bench.pdf.run()`` in any configured Django process with a
database). Self-contained: the certificates are unsaved ``Certificate`` objects with every printed
field set and a holder with a photo; the signing keys it may need are made inside a transaction that
is rolled back at the end, and nothing is written to the media storage.

- **yardstick**: a minimal one-page WeasyPrint document with the same fonts (a few Chinese characters
  in the two faces the certificate uses: Noto Sans CJK SC regular, Noto Serif CJK SC bold), its
  stylesheet and fonts reused as the certificates' are; ms per document;
- **one certificate**: the A4 page rendered (ms), signed (PAdES with pyHanko, ms), both (ms); the card;
- **a class of 200** (20 with ``quick``) as signed certificates: (a) each rendered and signed on its
  own, (b) the way ``certificates.pdf.make_bundle`` does it: the class rendered as few documents
  (``BUNDLE_CHUNK`` certificates each) merged into the bundle (signed), their pages cut into the
  individual PDFs, each signed, and the zip; total seconds (wall and CPU).

Every figure is also given as a ratio to the yardstick (per document or per certificate). The target:
a class of 200 signed certificates in under 30 s.
"""

from __future__ import annotations

import datetime
import io
import statistics
import time

from lms.bench.figures import figure

CLASS_SIZE = 200
TARGET_S = 30.0  # the certificates issue: a class of 200 signed certificates in under 30 s on this machine

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉梅海燕晓东子涵欣怡浩然宇轩梓萱诗琪俊杰思远文博嘉怡雨桐"


class _Rollback(Exception):
    pass


def _photo_bytes(seed: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (600, 800), (70 + seed % 40, 120, 180))
    draw = ImageDraw.Draw(image)
    draw.ellipse((180, 140, 420, 420), fill=(236, 200, 170))
    draw.rectangle((110, 460, 490, 800), fill=(40, 40, 60))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def sample_certificates(n: int, *, photo: bool = True) -> list:
    """``n`` unsaved certificates with realistic printed fields (different names), each holder with a photo."""
    from django.core.files.base import ContentFile

    from certificates.models import Certificate
    from courses.models import Programme
    from lms.models import User

    programme = Programme(code="bench-first-aider", name="救护员培训")
    issued = datetime.date(2026, 3, 18)
    jpeg = _photo_bytes(1) if photo else None
    out = []
    for i in range(n):
        name = SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)] + GIVEN[(i * 3 + 1) % len(GIVEN)]
        holder = User(username=f"bench_pdf_{i}", real_name=name)
        if photo:
            holder.photo = ContentFile(jpeg, name=f"bench-{i}.jpg")
        serial = f"{(i * 7919 + 12345) % 10**8:08d}"
        out.append(Certificate(
            number=f"3301062026{serial}{i % 10}", holder=holder, programme=programme, title="救护员证",
            holder_name=name, id_card_masked=f"330106{1980 + i % 20}****{i % 10000:04d}"[:18],
            programme_name="救护员培训（初级）", class_hours=16, issuer_name="杭州市红十字会西湖区培训基地",
            instructor_names="王建国、李秀英", examiner_name="陈志强", issued_on=issued,
            expires_on=datetime.date(2029, 3, 17), revision=1))
    return out


def _median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


_YARD_CSS = ('@page { size: A4; margin: 20mm } body { font-family: "Noto Sans CJK SC" } '
             'h1 { font-family: "Noto Serif CJK SC"; font-weight: bold }')
_YARD_HTML = "<h1>救护员证</h1><p>中国红十字会 应急救护</p>"


_yard: list = []  # the yardstick's stylesheet and font configuration, made once


def yardstick_pdf() -> bytes:
    """The minimal one-page document (its stylesheet and fonts reused, as the certificates')."""
    import weasyprint
    from weasyprint.text.fonts import FontConfiguration

    if not _yard:
        fonts = FontConfiguration()
        _yard.extend([weasyprint.CSS(string=_YARD_CSS, font_config=fonts), fonts])
    css, fonts = _yard
    return weasyprint.HTML(string=_YARD_HTML).write_pdf(stylesheets=[css], font_config=fonts)


def run(out=print, quick: bool = False) -> dict:
    from django.db import transaction

    from certificates import pdf
    from certificates.document_keys import active_document_key
    from certificates.signing import active_payload_key

    size = 20 if quick else CLASS_SIZE
    repeat = 3 if quick else 7
    figures: dict = {}
    try:
        with transaction.atomic():
            active_payload_key()
            active_document_key()
            certs = sample_certificates(size)
            one = certs[0]
            # Warm: fonts loaded, stylesheet parsed, key decrypted (what a running worker has done already).
            yardstick_pdf()
            unsigned = pdf.render_pdf(one, "a4")
            pdf.sign_pdf(unsigned)
            pdf.render_pdf(one, "card")

            yard_ms = _median_ms(yardstick_pdf, repeat * 2)
            cold = pdf.qr_png.cache_clear  # each figure from cold: no QR code made by an earlier run
            render_ms = _median_ms(lambda: (cold(), pdf.render_pdf(one, "a4")), repeat)
            card_ms = _median_ms(lambda: (cold(), pdf.render_pdf(one, "card")), repeat)
            sign_ms = _median_ms(lambda: pdf.sign_pdf(unsigned), repeat * 2)
            both_ms = _median_ms(lambda: (cold(), pdf.sign_pdf(pdf.render_pdf(one, "a4"))), repeat)
            signed_one = pdf.sign_pdf(unsigned)

            cold()
            t0, c0 = time.perf_counter(), time.process_time()
            separate = [pdf.sign_pdf(pdf.render_pdf(c, "a4")) for c in certs]
            separate_s, separate_cpu_s = time.perf_counter() - t0, time.process_time() - c0

            cold()
            t0, c0 = time.perf_counter(), time.process_time()
            bundle = pdf.make_bundle(certs, title="压测班 救护员证", keep=False)
            bundle_s, bundle_cpu_s = time.perf_counter() - t0, time.process_time() - c0

            cold()
            t0 = time.perf_counter()
            bundle_docs = [pdf.render_document(certs[i:i + pdf.BUNDLE_CHUNK], "a4")
                           for i in range(0, size, pdf.BUNDLE_CHUNK)]
            bundle_render_s = time.perf_counter() - t0
            raise _Rollback
    except _Rollback:
        pass

    import os
    import resource

    load = os.getloadavg()[0]
    max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    per_cert_separate = separate_s * 1000 / size
    per_cert_bundle = bundle_s * 1000 / size
    figures.update({
        "pdf_yardstick_ms": round(yard_ms, 1),
        "pdf_render_a4_ms": round(render_ms, 1), "pdf_render_card_ms": round(card_ms, 1),
        "pdf_sign_ms": round(sign_ms, 1), "pdf_render_sign_ms": round(both_ms, 1),
        "pdf_render_vs_yardstick": round(render_ms / yard_ms, 2),
        "pdf_render_sign_vs_yardstick": round(both_ms / yard_ms, 2),
        "pdf_class_size": size,
        "pdf_class_separate_s": round(separate_s, 2), "pdf_class_bundle_s": round(bundle_s, 2),
        "pdf_class_separate_cpu_s": round(separate_cpu_s, 2), "pdf_class_bundle_cpu_s": round(bundle_cpu_s, 2),
        "pdf_load_average": round(load, 2), "pdf_max_rss_mb": round(max_rss_mb),
        "pdf_class_bundle_render_only_s": round(bundle_render_s, 2),
        "pdf_class_separate_per_cert_vs_yardstick": round(per_cert_separate / yard_ms, 2),
        "pdf_class_bundle_per_cert_vs_yardstick": round(per_cert_bundle / yard_ms, 2),
        "pdf_signed_kb": round(len(signed_one) / 1024, 1),
        "pdf_bundle_kb": round(len(bundle.pdf) / 1024, 1), "pdf_zip_kb": round(len(bundle.zip) / 1024, 1),
        "pdf_separate_kb_each": round(sum(map(len, separate)) / size / 1024, 1),
        "pdf_bundle_unsigned_kb": round(sum(map(len, bundle_docs)) / 1024, 1),
    })
    target_size_s = bundle_s * CLASS_SIZE / size
    figures["pdf_class_200_s"] = round(target_size_s, 2)
    figures["pdf_class_200_target_met"] = target_size_s < TARGET_S

    out(f"Certificate PDFs: WeasyPrint, Noto CJK, PAdES-B-B (pyHanko, ECDSA P-256); class of {size}"
        + (" (quick)" if quick else "")
        + f"; {os.cpu_count()} cores, load average {load:.1f} (wall times grow with it)")
    rows = [
        ("yardstick: minimal one-page document, same fonts", yard_ms, 1.0),
        ("one certificate, A4, render", render_ms, render_ms / yard_ms),
        ("one certificate, card (2 pages), render", card_ms, card_ms / yard_ms),
        ("one certificate, sign", sign_ms, sign_ms / yard_ms),
        ("one certificate, A4, render + sign", both_ms, both_ms / yard_ms),
        (f"class of {size}, each rendered + signed alone, per certificate", per_cert_separate,
         per_cert_separate / yard_ms),
        (f"class of {size}, bundle + cut + each signed + zip, per certificate", per_cert_bundle,
         per_cert_bundle / yard_ms),
    ]
    out(f"  {'figure':<66} {'ms':>9} {'÷ yardstick':>12}")
    for name, ms, ratio in rows:
        out(f"  {name:<66} {ms:>9.1f} {ratio:>12.2f}")
    out(f"  class of {size}: (a) separately {separate_s:.2f} s, (b) as the bundle {bundle_s:.2f} s "
        f"(of which rendering, {pdf.BUNDLE_CHUNK} a document, {bundle_render_s:.2f} s); "
        f"CPU {separate_cpu_s:.1f} s and {bundle_cpu_s:.1f} s; "
        f"sizes: one signed PDF {len(signed_one) / 1024:.0f} KB, bundle {len(bundle.pdf) / 1024:.0f} KB, "
        f"zip {len(bundle.zip) / 1024:.0f} KB; peak memory {max_rss_mb:.0f} MB")
    verdict = "met" if target_size_s < TARGET_S else "NOT met"
    scaled = "" if size == CLASS_SIZE else f" (scaled from {size})"
    out(f"  target: a class of {CLASS_SIZE} signed certificates < {TARGET_S:.0f} s: {target_size_s:.1f} s{scaled}, "
        f"{verdict}")
    figures["figures"] = [
        figure("certificates", f"PDF: a class of {CLASS_SIZE} signed certificates", target_size_s, "s",
               below=TARGET_S, note=f"bundle, cut, signed, zipped{scaled}; load average {load:.1f}"),
        figure("certificates", "PDF: one A4 certificate rendered + signed", both_ms, "ms", yardstick=yard_ms,
               yardstick_name="minimal PDF"),
    ]
    return figures
