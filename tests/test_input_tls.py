"""Syslog over TLS (RFC 5425): real TLS clients (Python ssl, ``openssl s_client``,
syslog-ng's ``loggen``) against the input, certificates made by the ``openssl`` CLI."""

from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

from collectors.inputs.syslog import SyslogInput, SyslogInputConfig
from collectors.inputs.tls import TlsConfigError, TlsServerConfig, server_context
from tests.helpers_collectors import Collector, running
from tests.helpers_tls import CLIENT_CN, Pki, client_context, make_pki

MSG = b"<38>Nov 27 10:00:00 fw01 sshd[7]: Invalid user oracle from 198.51.100.7 port 4000"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def tls_input(pki: Pki, *, ca: bool = False, require: bool = False, **kw) -> SyslogInput:
    tls = TlsServerConfig(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        ca_file=str(pki.ca) if ca else None,
        require_client_cert=require,
    )
    return SyslogInput(SyslogInputConfig(protocol="tls", port=0, batch_wait_ms=10, tls=tls, **kw))


def send_tls(port: int, ctx: ssl.SSLContext, payload: bytes, *, unwrap: bool = True) -> None:
    """Send ``payload``; with ``unwrap`` close with a TLS close_notify, else just close
    the socket without reading anything (as most syslog senders do)."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=5)
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(payload)
        if unwrap:
            tls.unwrap()


def octet(*msgs: bytes) -> bytes:
    return b"".join(b"%d %s" % (len(m), m) for m in msgs)


def test_python_client_without_certificate_octet_framing(pki: Pki) -> None:
    inp = tls_input(pki, ca=True)  # client certificates optional
    col = Collector()
    with running(inp, col) as ctx:
        send_tls(inp.bound_port, client_context(pki), octet(MSG, MSG + b" second"))
        recs = col.wait_for(2)
    assert [r.raw for r in recs] == [MSG, MSG + b" second"]
    for r in recs:
        assert r.source == "syslog:tls:127.0.0.1" and r.position == -1
        assert r.meta["transport"] == "tls" and r.meta["input"] == "syslog"
        assert "client_cn" not in r.meta
    assert ctx.counters["syslog.tls.connections"] == 1
    assert ctx.counters["syslog.tls.messages"] == 2


def test_python_client_with_certificate_gives_client_cn(pki: Pki) -> None:
    inp = tls_input(pki, ca=True, require=True, framing="newline")
    col = Collector()
    with running(inp, col):
        send_tls(inp.bound_port, client_context(pki, pki.client_cert, pki.client_key), MSG + b"\n")
        (rec,) = col.wait_for(1)
    assert rec.raw == MSG
    assert rec.meta["client_cn"] == CLIENT_CN
    assert rec.meta["transport"] == "tls"


def test_sender_closing_without_reading_loses_nothing(pki: Pki) -> None:
    # With TLS 1.3 session tickets left unread by the sender, its close would be an
    # RST and the server's kernel would drop what was still buffered.
    inp = tls_input(pki)
    col = Collector()
    msgs = [MSG + b" %d" % i for i in range(2000)]
    with running(inp, col):
        send_tls(inp.bound_port, client_context(pki), octet(*msgs), unwrap=False)
        recs = col.wait_for(len(msgs))
    assert [r.raw for r in recs] == msgs


def _refused(port: int, ctx: ssl.SSLContext) -> bool:
    """True when the server refuses the handshake or closes before reading anything."""
    try:
        raw = socket.create_connection(("127.0.0.1", port), timeout=5)
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            tls.sendall(octet(MSG))
            # TLS 1.3: the server's alert for the client certificate arrives after
            # the client's side of the handshake is done; reading surfaces it.
            return tls.recv(1) == b""
    except (ssl.SSLError, ConnectionError):
        return True


def test_untrusted_or_missing_client_certificate_is_refused_when_required(pki: Pki) -> None:
    inp = tls_input(pki, ca=True, require=True)
    col = Collector()
    with running(inp, col) as ctx:
        assert _refused(inp.bound_port, client_context(pki, pki.rogue_cert, pki.rogue_key))
        assert _refused(inp.bound_port, client_context(pki))  # no certificate at all
        send_tls(inp.bound_port, client_context(pki, pki.client_cert, pki.client_key), octet(MSG))
        (rec,) = col.wait_for(1)
    assert rec.meta["client_cn"] == CLIENT_CN
    assert ctx.counters.get("syslog.tls.connections") == 1  # the refused ones never connected


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_below_1_2_and_plain_tcp_are_refused(pki: Pki) -> None:
    inp = tls_input(pki)
    col = Collector()
    old = client_context(pki)
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("ALL:@SECLEVEL=0")
    with running(inp, col):
        assert _refused(inp.bound_port, old)
        with socket.create_connection(("127.0.0.1", inp.bound_port), timeout=5) as plain:
            plain.sendall(octet(MSG))  # cleartext syslog to a TLS port
            plain.settimeout(5)
            try:
                data = plain.recv(4096)
            except ConnectionResetError:
                data = b""
        # the server answers with at most a TLS alert (content type 21), then closes
        assert data == b"" or data[0] == 21
    assert col.records == []
    assert inp.ssl_context is not None
    assert inp.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl command not installed")
def test_openssl_s_client_with_client_certificate(pki: Pki) -> None:
    inp = tls_input(pki, ca=True, require=True)
    col = Collector()
    with running(inp, col):
        proc = subprocess.run(
            [
                "openssl", "s_client", "-quiet", "-no_ign_eof", "-connect", f"127.0.0.1:{inp.bound_port}",
                "-servername", "localhost", "-verify_return_error", "-CAfile", str(pki.ca),
                "-cert", str(pki.client_cert), "-key", str(pki.client_key),
            ],
            input=octet(MSG, MSG + b" via s_client"),
            capture_output=True,
            timeout=20,
        )  # fmt: skip
        recs = col.wait_for(2)
    assert proc.returncode == 0, proc.stderr.decode()
    assert [r.raw for r in recs] == [MSG, MSG + b" via s_client"]
    assert {r.meta["client_cn"] for r in recs} == {CLIENT_CN}


@pytest.mark.skipif(shutil.which("loggen") is None, reason="loggen not installed (Debian syslog-ng-core)")
def test_loggen_over_tls(pki: Pki) -> None:
    inp = tls_input(pki)
    col = Collector()
    n = 500
    with running(inp, col):
        proc = subprocess.run(
            ["loggen", "--use-ssl", "--rate", "5000", "--number", str(n), "--syslog-proto",
             "127.0.0.1", str(inp.bound_port)],
            capture_output=True,
            timeout=30,
        )  # fmt: skip
        recs = col.wait_for(n)
    assert proc.returncode == 0 and f"count={n}," in proc.stderr.decode(), proc.stderr.decode()
    assert len(recs) == n
    assert all(r.raw.startswith(b"<38>1 ") and r.meta["transport"] == "tls" for r in recs)


def test_bad_or_missing_files_name_the_key_and_file(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cfg = SyslogInputConfig(
        name="edge",
        protocol="tls",
        port=0,
        tls=TlsServerConfig(cert_file=str(missing), key_file=str(pki.server_key)),
    )
    with pytest.raises(TlsConfigError, match=rf"syslog input 'edge': tls.cert_file: no such file {missing}"):
        SyslogInput(cfg)
    with pytest.raises(TlsConfigError, match=rf"tls.key_file: no such file {missing}"):
        server_context(TlsServerConfig(cert_file=str(pki.server_cert), key_file=str(missing)))
    with pytest.raises(TlsConfigError, match=rf"tls.cert_file {garbage} / tls.key_file"):
        server_context(TlsServerConfig(cert_file=str(garbage), key_file=str(pki.server_key)))
    with pytest.raises(TlsConfigError, match=r"tls.cert_file .* not a PEM certificate and its matching"):
        server_context(TlsServerConfig(cert_file=str(pki.server_cert), key_file=str(pki.client_key)))
    with pytest.raises(TlsConfigError, match=rf"tls.ca_file {garbage}: no PEM CA certificate"):
        server_context(TlsServerConfig(str(pki.server_cert), str(pki.server_key), ca_file=str(garbage)))
    with pytest.raises(TlsConfigError, match=r"require_client_cert needs tls\.ca_file"):
        server_context(TlsServerConfig(str(pki.server_cert), str(pki.server_key), require_client_cert=True))
    with pytest.raises(ValueError, match=r"protocol 'tls' needs tls\.cert_file"):
        SyslogInputConfig(protocol="tls")
    with pytest.raises(ValueError, match="tls settings given but protocol is 'tcp'"):
        SyslogInputConfig(protocol="tcp", tls=TlsServerConfig(str(pki.server_cert), str(pki.server_key)))
