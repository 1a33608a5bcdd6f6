"""A self-signed serving certificate for the admission webhook, for local use only.

On a cluster the certificate comes from cert-manager or from the Helm chart (a Secret mounted into
the pod); kopf would make a self-signed one itself, but only with an extra dependency (certbuilder)
that Conveyor does not carry, so it is made here with `cryptography`. The certificate is its own CA
(it is the webhook's `caBundle`): CA:TRUE, with the SANs the API server verifies (IPs as IP SANs).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = dt.timedelta(days=365)


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(hosts: Iterable[str]) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) valid for `hosts` (DNS names or IPs) for a year."""
    names = list(dict.fromkeys(hosts))
    if not names:
        raise ValueError("a certificate needs at least one host")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectAlternativeName([_general_name(h) for h in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return certificate.public_bytes(serialization.Encoding.PEM), key_pem


def write_self_signed(directory: Path, hosts: Iterable[str]) -> tuple[Path, Path]:
    """Write a fresh pair as `tls.crt` and `tls.key` (mode 0600) in `directory`; their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_pem, key_pem = self_signed(hosts)
    cert, key = directory / "tls.crt", directory / "tls.key"
    key.touch(mode=0o600)
    key.write_bytes(key_pem)
    cert.write_bytes(cert_pem)
    return cert, key
