"""``env.proxy_agent``: the earlier package's view of the network state sent to the sites (its example 06)."""
import numpy as np
import pytest

from heron.messaging.channels import ChannelManager
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup


@pytest.fixture
def env():
    config = load_setup("ieee34_ieee13")
    config.update(max_episode_steps=24, centralized=False, message_broker="in_memory")
    return MultiAgentMicrogrids(config)


def test_only_distributed_mode_has_a_proxy(env):
    assert MultiAgentMicrogrids({"centralized": True}).proxy_agent is None
    proxy = env.proxy_agent
    assert proxy.agent_id == "proxy_agent" and proxy.subordinate_agents == ["MG1", "MG2", "MG3"]
    assert proxy.visibility_rules is None and proxy.network_state_cache == {}


def test_the_cache_holds_what_each_site_was_sent(env):
    env.reset(seed=42)
    cache = env.proxy_agent.network_state_cache
    assert cache["converged"] is True and set(cache["agents"]) == {"MG1", "MG2", "MG3"}
    obs, *_ = env.step({a: np.zeros(3) for a in env.possible_agents})
    mg1 = env.proxy_agent.network_state_cache["agents"]["MG1"]
    names = env.observation_space("MG1").metadata["names"]
    np.testing.assert_allclose(mg1["vm_pu"], obs["MG1"][names.index("MG1 Bus 650.vm"):], rtol=1e-6)
    assert mg1["price"] == pytest.approx(obs["MG1"][names.index("price")], rel=1e-6)
    assert len(env.message_broker.channels) > 0


def test_visibility_rules_filter_what_the_proxy_sends(env):
    env.proxy_agent.visibility_rules = {"MG1": ["vm_pu"], "MG2": ["vm_pu", "line_loading"], "MG3": []}
    env.reset(seed=42)
    env.proxy_agent.distribute_network_state_to_agents()
    seen = {}
    for agent in env.possible_agents:
        channel = ChannelManager.info_channel("proxy_agent", agent, env.env_id)
        messages = env.message_broker.consume(channel, recipient_id=agent, env_id=env.env_id, clear=False)
        assert len(messages) == 1 and messages[0].sender_id == "proxy_agent"
        seen[agent] = set(messages[0].payload)
    assert seen == {"MG1": {"vm_pu"}, "MG2": {"vm_pu", "line_loading"}, "MG3": set()}
    env.proxy_agent.visibility_rules = {"MG1": "vm_pu"}
    with pytest.raises(ValueError, match=r"visibility_rules\['MG1'\] must be a list of result keys"):
        env.proxy_agent.distribute_network_state_to_agents()
    with pytest.raises(ValueError, match="unknown agent 'MG9'"):
        env.proxy_agent.visible_state("MG9")
