"""Sites as processes of their own over Redis Streams and Kafka: the same results as in-process distributed mode."""
import contextlib
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from heron.messaging.kafka import KafkaBroker
from powergrid.envs import MultiAgentMicrogrids
from tests.servers import fresh_redis_broker

pytestmark = pytest.mark.slow  # site processes: run by CI, left out of the quick loop


def transport(name, request):
    """(the env's broker, the URL its sites connect to) on a fresh namespace of the server."""
    if name == "redis":
        url = request.getfixturevalue("redis_url")
        return fresh_redis_broker(url), url
    servers, tag = request.getfixturevalue("kafka_servers"), uuid.uuid4().hex[:8]
    return KafkaBroker(servers, topic_prefix=f"t{tag}", group_id=f"g{tag}"), f"kafka://{servers}?topic_prefix=t{tag}&group_id=g{tag}"


def start_sites(url, env_id, agents=("MG1", "MG2", "MG3"), keys=None):
    """Site processes, once each says it is serving (with ``keys``, a folder of key files: signed)."""
    signed = lambda a: ["--keys", str(keys / f"{a}.json")] if keys is not None else []  # noqa: E731
    sites = [subprocess.Popen([sys.executable, "-m", "powergrid", "site", a, "--broker", url, "--env-id", env_id, "--idle-timeout", "120",
                               *signed(a)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for a in agents]
    for site in sites:
        line = site.stdout.readline()
        assert "serving env" in line, line + site.stdout.read()
    return sites


@contextlib.contextmanager
def env_without_mg2(redis_url, env_id, **config):
    """A remote-sites env over Redis whose MG1 and MG3 run as processes and whose MG2 never starts."""
    sites = start_sites(redis_url, env_id, agents=("MG1", "MG3"))
    try:
        env = MultiAgentMicrogrids({"centralized": False, "message_broker": fresh_redis_broker(redis_url), "env_id": env_id,
                                    "remote_sites": True, **config})
        yield env
        env.close()
    finally:
        for p in sites:
            p.kill()


@pytest.mark.parametrize("name", ["redis", "kafka", "redis, signed"])
def test_three_site_processes_match_in_process_distributed_mode(name, request, tmp_path):
    broker, url = transport(name.split(",")[0], request)
    keys = None
    if name.endswith("signed"):
        from heron.messaging.security import SecureBroker
        from powergrid.deploy import provision_keys

        keys = tmp_path / "keys"
        broker = SecureBroker(broker, provision_keys(MultiAgentMicrogrids({"train": False}), keys))
    sites = start_sites(url, "remote1", keys=keys)
    try:
        remote = MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "remote1",
                                       "remote_sites": True, "site_timeout": 120.0, "train": False})
        local = MultiAgentMicrogrids({"centralized": False, "train": False})
        rng = np.random.default_rng(2)
        pairs = [env.reset(seed=4)[0] for env in (remote, local)]
        worst = max(np.abs(pairs[0][a] - pairs[1][a]).max() for a in remote.possible_agents)
        for _ in range(200):
            actions = {a: remote.action_space(a).low + rng.random(remote.action_space(a).shape)
                       * (remote.action_space(a).high - remote.action_space(a).low) for a in remote.agents}
            out = [env.step(actions) for env in (remote, local)]
            for a in remote.possible_agents:
                worst = max(worst, np.abs(out[0][0][a] - out[1][0][a]).max(), abs(out[0][1][a] - out[1][1][a]),
                            abs(out[0][4][a]["cost"] - out[1][4][a]["cost"]))
            if not remote.agents:
                remote.reset()
                local.reset()
        assert worst <= 1e-9
        np.testing.assert_allclose(remote.storage.soc, local.storage.soc, rtol=0, atol=1e-9)  # the env's mirror of the sites
        remote.close()
        outputs = [p.communicate(timeout=60)[0] for p in sites]
        assert [p.returncode for p in sites] == [0, 0, 0], outputs
        assert all("served 200 steps" in o for o in outputs)
        assert getattr(broker, "rejected", 0) == 0
    finally:
        for p in sites:
            p.kill()


def test_a_site_that_does_not_answer_is_named_within_the_timeout(redis_url):
    with env_without_mg2(redis_url, "remote2", site_timeout=20.0) as env:
        env.reset(seed=0)
        actions = {a: np.clip(np.zeros(env.action_space(a).shape), env.action_space(a).low, env.action_space(a).high) for a in env.agents}
        with pytest.raises(TimeoutError, match=r"site\(s\) \['MG2'\] sent no state update within 20 s"):
            env.step(actions)
        assert env.core.t == 0  # the step was undone on the env's side


def test_a_second_process_serving_the_same_site_is_refused_naming_the_first(redis_url):
    env_id = f"twice-{uuid.uuid4().hex[:8]}"
    first = start_sites(redis_url, env_id, agents=("MG1",))[0]
    try:
        second = subprocess.run([sys.executable, "-m", "powergrid", "site", "MG1", "--broker", redis_url, "--env-id", env_id],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode != 0
        assert f"site 'MG1' of env '{env_id}' is already served by pid {first.pid} on" in second.stderr, second.stderr
        assert "Traceback" not in second.stderr
    finally:
        first.kill()


def test_remote_sites_need_a_broker_other_processes_can_reach():
    with pytest.raises(ValueError, match="'remote_sites'.*'centralized': False and a 'message_broker' they can reach"):
        MultiAgentMicrogrids({"centralized": False, "remote_sites": True})
    with pytest.raises(ValueError, match="site_timeout"):
        MultiAgentMicrogrids({"site_timeout": 0})


def test_a_controller_built_on_its_own_runs_as_a_site_with_run(redis_url):
    """The FAQ's deployment: ``GridAgent(agent_id="MG1", message_broker=broker, ...).run()`` on
    the controller's own hardware, with devices built from their configs, not from the env's."""
    import threading

    from heron.messaging.redis import RedisBroker
    from powergrid.agents import ESS, Generator, GridAgent
    from powergrid.setups import load_setup

    broker = fresh_redis_broker(redis_url)
    local = MultiAgentMicrogrids({"centralized": False, "train": False})
    config = next(mg for mg in load_setup("ieee34_ieee13")["microgrid_configs"] if mg["name"] == "MG1")
    devices = [(Generator if d["type"] == "Generator" else ESS)(device_config=d) for d in config["devices"]]
    controller = GridAgent(agent_id="MG1", devices=devices, message_broker=RedisBroker(redis_url),
                           n_buses=local.agent_dict["MG1"].n_buses, base_power=config["base_power"])
    served = []
    thread = threading.Thread(target=lambda: served.append(controller.run(env_id="remote3", idle_timeout=60)))
    thread.start()
    sites = start_sites(redis_url, "remote3", agents=("MG2", "MG3"))
    try:
        remote = MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "remote3",
                                       "remote_sites": True, "site_timeout": 60.0, "train": False})
        rng, worst = np.random.default_rng(5), 0.0
        for env in (remote, local):
            env.reset(seed=1)
        for _ in range(20):
            actions = {a: remote.action_space(a).low + rng.random(remote.action_space(a).shape)
                       * (remote.action_space(a).high - remote.action_space(a).low) for a in remote.agents}
            out = [env.step(actions) for env in (remote, local)]
            worst = max([worst] + [np.abs(out[0][0][a] - out[1][0][a]).max() for a in remote.possible_agents]
                        + [abs(out[0][1][a] - out[1][1][a]) for a in remote.possible_agents])
        assert worst <= 1e-9
        remote.close()
        thread.join(timeout=60)
        assert [tuple(s) for s in served] == [(20, 0)]
    finally:
        for p in sites:
            p.kill()


def test_a_silent_site_can_be_held_at_what_the_env_last_heard_and_is_flagged(redis_url):
    with env_without_mg2(redis_url, "remote4", site_timeout=2.0, silent_site="hold") as env:
        first, _ = env.reset(seed=0)
        actions = {a: env.action_space(a).high for a in env.agents}
        for _ in range(2):
            obs, rewards, _, _, infos = env.step(actions)
            assert {a: i["stale"] for a, i in infos.items()} == {"MG1": False, "MG2": True, "MG3": False}
            np.testing.assert_array_equal(obs["MG2"], first["MG2"])  # held: its reset observation
            cost, _ = env._cost_and_safety()
            assert infos["MG2"]["cost"] == cost[1] > 0  # scored by the env from its power flow: its load imported
        assert env.storage.p[1] == 0.0  # its storage held at its initial state in the power flow, whatever was commanded
    with pytest.raises(ValueError, match="'silent_site' must be 'raise' or 'hold', got 'ignore'"):
        MultiAgentMicrogrids({"silent_site": "ignore"})


@pytest.mark.parametrize("name", ["redis", "kafka"])
def test_a_site_killed_mid_run_is_held_then_resumes_from_its_committed_position(name, request):
    """Kill MG2 between steps: the env holds it and flags it stale; restarted, it reads on from
    where it had committed: the two steps it missed are past (skipped, not acted late), and no
    step it had finished comes again. The other sites never notice."""
    broker, url = transport(name, request)
    sites = start_sites(url, "remote5")
    try:
        env = MultiAgentMicrogrids({"centralized": False, "message_broker": broker, "env_id": "remote5", "remote_sites": True,
                                    "site_timeout": 3.0, "silent_site": "hold", "train": False})
        env.reset(seed=0)
        actions = {a: env.action_space(a).low + 0.6 * (env.action_space(a).high - env.action_space(a).low) for a in env.agents}

        def stale_flags():
            return tuple(i["stale"] for i in env.step(actions)[4].values())

        assert [stale_flags() for _ in range(5)] == [(False, False, False)] * 5
        time.sleep(1.0)  # MG2 has committed step 5 and waits for the next
        sites[1].kill()
        sites[1].communicate(timeout=30)
        p, soc = env.storage.p[1], env.storage.soc[1]
        assert p > 0  # MG2's storage was charging when its site died
        assert [stale_flags() for _ in range(2)] == [(False, True, False)] * 2  # detected within site_timeout, held
        capacity, efficiency = env.storage.capacity[1], env.storage.eff_ch[1]
        assert env.storage.p[1] == p and env.storage.soc[1] == pytest.approx(soc + 2 * p * efficiency / capacity)  # energy kept count
        sites[1] = start_sites(url, "remote5", agents=("MG2",))[0]
        assert [stale_flags() for _ in range(3)] == [(False, False, False)] * 3
        assert env.exchange.late == 0  # nothing of a past step was acted on late
        env.close()
        outputs = [p.communicate(timeout=60)[0] for p in sites]
        assert "served 10 steps" in outputs[0] and "served 10 steps" in outputs[2], outputs
        assert "served 3 steps of env remote5 (skipped 2 already past)" in outputs[1], outputs  # 5 before + 3 after: none twice
    finally:
        for p in sites:
            p.kill()
