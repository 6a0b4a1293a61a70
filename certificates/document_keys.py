"""The PDF signing key (``SigningKey`` of purpose ``document``) and the PAdES signature.

The site signs every certificate PDF (and every class bundle) with one active key: an ECDSA P-256 key
(what PDF readers support most widely) with a self-signed X.509 certificate (subject
"中国红十字会应急救护证书签发 (LMS)", 10 years, key usage digitalSignature + nonRepudiation). The key is made
on first use (one creator at a time, as ``signing.active_payload_key``), stored encrypted with
``lms.protection`` and rotated with ``rotate_document_key`` (audited): a retired key signs nothing new,
and what it signed stays valid (its certificate is in the PDF's signature).

The signature (``sign_pdf``) is PAdES-B-B made with pyHanko: a certification signature (DocMDP "no
changes") in an invisible field, reason 证书签发, covering the whole file as written. Any PDF reader
shows that the document was not modified since it was signed; whether it *trusts* the signer is a
matter of the reader's trust list (a self-signed certificate is "not trusted" until a verifier adds
it, e.g. from ``document_certificate_pem``).
"""

from __future__ import annotations

import datetime
import io
import secrets
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import transaction
from django.utils import timezone

from lms import protection

_PURPOSE = "certificate-document-key"
ALGORITHM = "ECDSA-P256"
SUBJECT_CN = "中国红十字会应急救护证书签发 (LMS)"
SUBJECT_O = "中国红十字会"
VALIDITY_YEARS = 10
REASON = "证书签发"
LOCATION = "中国"
FIELD_NAME = "Signature1"
# Room for the signature in the file: hex digits of the /Contents placeholder (two per byte of the CMS
# object). The CMS of an ECDSA signature with its self-signed certificate and the PAdES attributes takes
# about 1.3 KB, so 4 KB leaves room for a longer certificate chain; giving the size spares pyHanko a trial
# signature per document (half the signing time).
SIGNATURE_BYTES = 8192

_signers: dict[str, object] = {}  # kid -> pyHanko SimpleSigner (the decrypted key, kept per process)
_lock = threading.Lock()


# ------------------------------------------------------------------ the key

def _new_kid() -> str:
    return f"doc{timezone.now():%Y%m%d}-{secrets.token_hex(3)}"


def _self_signed(private: ec.EllipticCurvePrivateKey, now: datetime.datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, SUBJECT_CN),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, SUBJECT_O),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
    ])
    public = private.public_key()
    try:
        not_after = now.replace(year=now.year + VALIDITY_YEARS)
    except ValueError:  # 29 February
        not_after = now.replace(year=now.year + VALIDITY_YEARS, day=28)
    return (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(private, hashes.SHA256())
    )


def _create_document_key():
    from .models import SigningKey

    private = ec.generate_private_key(ec.SECP256R1())
    cert = _self_signed(private, timezone.now().replace(microsecond=0))
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return SigningKey.objects.create(
        kid=_new_kid(), purpose=SigningKey.Purpose.DOCUMENT, algorithm=ALGORITHM, public_key=public_pem,
        private_key_protected=protection.encrypt(pem, _PURPOSE),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode())


def active_document_key():
    """The key that signs new PDFs (made on first use; safe when two workers race)."""
    from .models import SigningKey

    key = SigningKey.objects.filter(purpose=SigningKey.Purpose.DOCUMENT, retired_at__isnull=True).first()
    if key is not None:
        return key
    with transaction.atomic():
        # One creator at a time (PostgreSQL: the lock below; SQLite: writes are serialised anyway).
        list(SigningKey.objects.select_for_update().filter(purpose=SigningKey.Purpose.DOCUMENT))
        key = SigningKey.objects.filter(purpose=SigningKey.Purpose.DOCUMENT, retired_at__isnull=True).first()
        return key or _create_document_key()


def rotate_document_key(actor=None):
    """Retire the active PDF signing key and make a new one (audited). Returns the new key."""
    from lms import api as lms_api

    from .models import SigningKey

    with transaction.atomic():
        old = list(SigningKey.objects.select_for_update().filter(purpose=SigningKey.Purpose.DOCUMENT,
                                                                 retired_at__isnull=True))
        SigningKey.objects.filter(pk__in=[k.pk for k in old]).update(retired_at=timezone.now())
        new = _create_document_key()
        lms_api.record_audit(actor, "certificates.document_key.rotate", new,
                             after={"kid": new.kid, "retired": [k.kid for k in old]})
    return new


def document_certificate(key=None) -> x509.Certificate:
    """The X.509 certificate of a document key (the active one by default)."""
    key = key or active_document_key()
    return x509.load_pem_x509_certificate(key.certificate_pem.encode())


def signer_for(key):
    """A pyHanko signer of ``key`` (kept per process: the key is decrypted once)."""
    signer = _signers.get(key.kid)
    if signer is not None:
        return signer
    from pyhanko.keys import load_certs_from_pemder_data, load_private_key_from_pemder_data
    from pyhanko.sign import signers
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    pem = protection.decrypt(key.private_key_protected, _PURPOSE).encode()
    cert = next(iter(load_certs_from_pemder_data(key.certificate_pem.encode())))
    signer = signers.SimpleSigner(signing_cert=cert, signing_key=load_private_key_from_pemder_data(pem, None),
                                  cert_registry=SimpleCertificateStore.from_certs([cert]))
    with _lock:
        _signers[key.kid] = signer
    return signer


# ------------------------------------------------------------------ the signature

def signature_metadata(certify: bool = True):
    from pyhanko.sign import fields, signers

    return signers.PdfSignatureMetadata(
        field_name=FIELD_NAME, md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES,
        reason=REASON, location=LOCATION, name=SUBJECT_CN, certify=certify,
        docmdp_permissions=fields.MDPPerm.NO_CHANGES if certify else fields.MDPPerm.FILL_FORMS)


def sign_pdf(pdf_bytes: bytes, key=None) -> bytes:
    """``pdf_bytes`` signed (PAdES-B-B, a certification signature in an invisible field) with the active
    document key, or ``key``."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers

    signer = signer_for(key or active_document_key())
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes), strict=False)
    out = io.BytesIO()
    signers.PdfSigner(signature_metadata(), signer=signer).sign_pdf(writer, bytes_reserved=SIGNATURE_BYTES, output=out)
    return out.getvalue()
