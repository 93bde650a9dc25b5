"""Who may open the studio: loopback by default, a token for any other host, TLS for a remote camera.

Browsers give a page the camera only in a secure context (https, or http on localhost), so a
laptop's webcam reaching a studio on another machine needs TLS: the user's certificate, or a
self-signed one made on first use (kept in the user's cache folder, its SHA-256 fingerprint
printed so the user can check what the browser shows before accepting it).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import secrets
import socket
import ssl
from pathlib import Path

from l2m_edge.io import atomic_path

from .protocol import StudioError

TOKEN_BYTES = 24
CERT_DAYS = 365


def is_loopback(host: str) -> bool:
    """Whether `host` binds only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def default_tls_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "l2m-edge" / "studio"


def self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """(cert, key) in `directory`, made on first use: EC P-256, valid a year, for `host`, this machine's name and loopback."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if cert.is_file() and key.is_file() and _covers(cert, host):
        return cert, key
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.DNSName(socket.gethostname()), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    try:
        names.append(x509.IPAddress(ipaddress.ip_address(host)))
    except ValueError:
        names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "l2m-edge studio")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CERT_DAYS))
        .add_extension(x509.SubjectAlternativeName(list(dict.fromkeys(names))), critical=False)
        .sign(private, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    with atomic_path(key, mode=0o600) as tmp:
        tmp.write_bytes(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with atomic_path(cert) as tmp:
        tmp.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _covers(cert: Path, host: str) -> bool:
    """Whether a kept certificate is still valid and names `host`."""
    from cryptography import x509

    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    if loaded.not_valid_after_utc <= datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1):
        return False
    names = loaded.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    try:
        return ipaddress.ip_address(host) in names.get_values_for_type(x509.IPAddress)
    except ValueError:
        return host in names.get_values_for_type(x509.DNSName)


def fingerprint(cert: Path) -> str:
    """SHA-256 of the certificate, as browsers show it (AB:CD:…)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    digest = x509.load_pem_x509_certificate(cert.read_bytes()).fingerprint(hashes.SHA256())
    return ":".join(f"{b:02X}" for b in digest)


def server_ssl(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise StudioError(f"{cert} / {key}: not a usable certificate and key ({exc}); pass a PEM certificate and its key, or leave both out for a self-signed one") from None
    return context
