"""The HTTP settings MLflow users rely on, against real servers on 127.0.0.1: a TLS tracking server
whose certificate comes from a CA made here (CA bundles, insecure TLS, client certificates), a
CONNECT/forwarding proxy written here (HTTP(S)_PROXY, NO_PROXY, proxy credentials), and retries and
timeouts from the MLFLOW_HTTP_REQUEST_* variables."""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import ipaddress
import select
import socket
import socketserver
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

import fluvial as mlflow
from fluvial.exceptions import MlflowException

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _serve import _env, _stop, fluvial_server, free_port

_TLS_SERVER = """
import ssl, sys, uvicorn
from fluvial.server.app import create_app
from fluvial.server.config import ServerConfig, build_stores
port, cert, key, ca, require = sys.argv[1:6]
app = create_app(build_stores(ServerConfig(backend_store_uri="sqlite:///tls.db", artifacts_destination="art")))
uvicorn.run(app, host="127.0.0.1", port=int(port), ssl_certfile=cert, ssl_keyfile=key, ssl_ca_certs=ca,
            ssl_cert_reqs=ssl.CERT_REQUIRED if require == "1" else ssl.CERT_NONE, log_level="warning")
"""


@pytest.fixture(autouse=True)
def _no_network_env(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                 "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")


# ---- certificates ----------------------------------------------------------------------------------
def _pem_files(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by the CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("fluvial test CA")).issuer_name(name("fluvial test CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))

    def leaf(cn: str, usage: x509.ObjectIdentifier, san: bool) -> tuple[bytes, bytes]:
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (x509.CertificateBuilder().subject_name(name(cn)).issuer_name(ca.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                                  critical=False))
        if san:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM), key_pem(key)

    server_cert, server_key = leaf("127.0.0.1", ExtendedKeyUsageOID.SERVER_AUTH, True)
    client_cert, client_key = leaf("fluvial test client", ExtendedKeyUsageOID.CLIENT_AUTH, False)
    files = {"ca": ca.public_bytes(serialization.Encoding.PEM), "server_cert": server_cert, "server_key": server_key,
             "client": client_cert + client_key}
    paths = {}
    for label, data in files.items():
        paths[label] = directory / f"{label}.pem"
        paths[label].write_bytes(data)
    return paths


@pytest.fixture(scope="module")
def pems(tmp_path_factory) -> dict[str, Path]:
    return _pem_files(tmp_path_factory.mktemp("pki"))


@contextlib.contextmanager
def _tls_server(workdir: Path, pems: dict[str, Path], require_client_cert: bool) -> Iterator[str]:
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log = open(workdir / "server.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-c", _TLS_SERVER, str(port), str(pems["server_cert"]),
                             str(pems["server_key"]), str(pems["ca"]), "1" if require_client_cert else "0"],
                            cwd=workdir, env=_env(None), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:  # listening is enough: the tests do the TLS
            assert proc.poll() is None, (workdir / "server.log").read_text()
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            assert time.monotonic() < deadline, "TLS server did not start within 60 s"
            time.sleep(0.1)
        yield f"https://127.0.0.1:{port}"
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def tls_url(tmp_path_factory, pems) -> Iterator[str]:
    with _tls_server(tmp_path_factory.mktemp("tls"), pems, require_client_cert=False) as url:
        yield url


@pytest.fixture(scope="module")
def mtls_url(tmp_path_factory, pems) -> Iterator[str]:
    with _tls_server(tmp_path_factory.mktemp("mtls"), pems, require_client_cert=True) as url:
        yield url


@pytest.fixture(scope="module")
def plain_url(tmp_path_factory) -> Iterator[str]:
    with fluvial_server(tmp_path_factory.mktemp("plain")) as server:
        yield server.url


# ---- the proxy -------------------------------------------------------------------------------------
class _ProxyHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.request.recv(65536)
            if not chunk:
                return
            head += chunk
        lines = head.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        auth = next((ln.split(":", 1)[1].strip() for ln in lines[1:] if ln.lower().startswith("proxy-authorization:")),
                    None)
        self.server.seen.append((method, target, auth))  # type: ignore[attr-defined]
        if method == "CONNECT":
            host, port = target.rsplit(":", 1)
            upstream = socket.create_connection((host, int(port)), timeout=10)
            self.request.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        else:  # absolute-form request: forwarded as it is (HTTP/1.1 servers accept absolute targets)
            parts = urlsplit(target)
            upstream = socket.create_connection((parts.hostname, parts.port or 80), timeout=10)
            upstream.sendall(head)
        with upstream:
            idle_until = time.monotonic() + 30
            while time.monotonic() < idle_until:
                ready, _, _ = select.select([self.request, upstream], [], [], 0.5)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (upstream if sock is self.request else self.request).sendall(data)
                    idle_until = time.monotonic() + 30


@pytest.fixture(scope="module")
def proxy() -> Iterator[socketserver.ThreadingTCPServer]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _ProxyHandler)
    server.daemon_threads = True
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture
def seen(proxy) -> list:
    proxy.seen.clear()
    return proxy.seen


def _round_trip(url: str) -> None:
    mlflow.set_tracking_uri(url)
    name = f"exp-{time.time_ns()}"
    experiment_id = mlflow.create_experiment(name)
    assert mlflow.get_experiment_by_name(name).experiment_id == experiment_id


# ---- TLS -------------------------------------------------------------------------------------------
def test_unknown_ca_fails_at_once_with_the_fix(tls_url, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "5")  # a certificate error is not retried
    mlflow.set_tracking_uri(tls_url)
    with pytest.raises(MlflowException, match="TLS certificate could not be verified") as info:
        mlflow.search_experiments()
    assert "MLFLOW_TRACKING_SERVER_CERT_PATH" in str(info.value)


@pytest.mark.parametrize("variable", ["MLFLOW_TRACKING_SERVER_CERT_PATH", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_ca_bundle_from_the_environment(tls_url, pems, monkeypatch, variable):
    monkeypatch.setenv(variable, str(pems["ca"]))
    _round_trip(tls_url)


def test_insecure_tls_skips_verification(tls_url, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    _round_trip(tls_url)


def test_insecure_and_cert_path_together_are_refused(tls_url, pems, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(pems["ca"]))
    mlflow.set_tracking_uri(tls_url)
    with pytest.raises(MlflowException, match="must not be set"):
        mlflow.search_experiments()


def test_client_certificate(mtls_url, pems, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(pems["ca"]))
    mlflow.set_tracking_uri(mtls_url)
    with pytest.raises(MlflowException):
        mlflow.search_experiments()  # the server wants a client certificate
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", str(pems["client"]))
    _round_trip(mtls_url)
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", str(pems["ca"]))  # no private key in it
    with pytest.raises(MlflowException, match="MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        mlflow.search_experiments()


# ---- proxies ---------------------------------------------------------------------------------------
def test_https_through_a_connect_proxy(tls_url, pems, proxy, seen, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(pems["ca"]))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    _round_trip(tls_url)
    assert seen and {(m, t) for m, t, _ in seen} == {("CONNECT", tls_url.removeprefix("https://"))}


def test_http_through_a_proxy_with_credentials(plain_url, proxy, seen, monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://user:p%40ss@127.0.0.1:{proxy.server_address[1]}")
    _round_trip(plain_url)
    assert seen and all(t.startswith(plain_url + "/api/2.0/mlflow/") for _, t, _ in seen)
    assert {auth for _, _, auth in seen} == {"Basic dXNlcjpwQHNz"}  # user:p@ss


def test_no_proxy_bypasses_the_proxy(tls_url, plain_url, pems, proxy, seen, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(pems["ca"]))
    monkeypatch.setenv("HTTPS_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    _round_trip(tls_url)
    _round_trip(plain_url)
    assert seen == []


def test_unsupported_proxy_scheme_is_an_error(plain_url, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "socks5://127.0.0.1:1080")
    mlflow.set_tracking_uri(plain_url)
    with pytest.raises(MlflowException, match="Unsupported proxy"):
        mlflow.search_experiments()


# ---- retries and timeouts --------------------------------------------------------------------------
@contextlib.contextmanager
def _always_503() -> Iterator[tuple[str, list[str]]]:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_max_retries_and_backoff_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_JITTER", "0")
    with _always_503() as (url, hits):
        mlflow.set_tracking_uri(url)
        with pytest.raises(MlflowException):
            mlflow.search_experiments()
        assert len(hits) == 3  # the request and two retries


def test_timeout_from_the_environment(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "1")
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts (backlog), never answers
        mlflow.set_tracking_uri(f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(MlflowException, match="timed out after 1"):
            mlflow.search_experiments()


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "10", "maximum allowable retries"),
    ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "many", "must be an integer"),
    ("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "120", "backoff_factor"),
    ("MLFLOW_HTTP_REQUEST_TIMEOUT", "0", "must be positive"),
    ("MLFLOW_TRACKING_INSECURE_TLS", "yes please", "must be 'true' or 'false'"),
])
def test_malformed_settings_are_errors(plain_url, monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    mlflow.set_tracking_uri(plain_url)
    with pytest.raises(MlflowException, match=message):
        mlflow.search_experiments()
