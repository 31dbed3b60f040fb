"""Test certificates made with the ``openssl`` command in a temporary folder.

``make_pki(dir)`` creates a CA, a server certificate for ``localhost`` /
``127.0.0.1`` signed by it, a client certificate (CN ``fw01.so-tttt``) signed by it,
and a client certificate from a second, untrusted CA. Keys are ECDSA P-256 (fast).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from dataclasses import dataclass
from pathlib import Path

OPENSSL = shutil.which("openssl")
CLIENT_CN = "fw01.so-tttt"


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    rogue_cert: Path
    rogue_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL, "the openssl command is needed (Debian package openssl)"
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"openssl {' '.join(args)} failed:\n{proc.stderr}"


def _ca(d: Path, name: str) -> tuple[Path, Path]:
    cert, key = d / f"{name}.pem", d / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign",
        cwd=d,
    )  # fmt: skip
    return cert, key


def _leaf(d: Path, name: str, cn: str, ca: tuple[Path, Path], ext: str) -> tuple[Path, Path]:
    cert, key, csr, extfile = d / f"{name}.pem", d / f"{name}.key", d / f"{name}.csr", d / f"{name}.ext"
    _openssl(
        "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
        "-keyout", str(key), "-out", str(csr), "-subj", f"/O=SOC test/CN={cn}",
        cwd=d,
    )  # fmt: skip
    extfile.write_text(ext + "\n")
    _openssl(
        "x509", "-req", "-in", str(csr), "-CA", str(ca[0]), "-CAkey", str(ca[1]), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(extfile),
        cwd=d,
    )  # fmt: skip
    return cert, key


def make_pki(d: Path) -> Pki:
    d.mkdir(parents=True, exist_ok=True)
    ca = _ca(d, "ca")
    rogue_ca = _ca(d, "rogue-ca")
    server = _leaf(
        d, "server", "localhost", ca, "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth"
    )
    client = _leaf(d, "client", CLIENT_CN, ca, "extendedKeyUsage=clientAuth")
    rogue = _leaf(d, "rogue", "rogue.example", rogue_ca, "extendedKeyUsage=clientAuth")
    return Pki(ca[0], server[0], server[1], client[0], client[1], rogue[0], rogue[1])


def client_context(pki: Pki, cert: Path | None = None, key: Path | None = None) -> ssl.SSLContext:
    """A client context trusting the test CA, optionally presenting a certificate."""
    ctx = ssl.create_default_context(cafile=str(pki.ca))
    if cert is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx
