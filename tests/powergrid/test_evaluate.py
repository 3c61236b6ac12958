"""``python -m powergrid evaluate`` and the trace it records."""
import numpy as np
import pandas as pd
import pytest

from powergrid.__main__ import main
from powergrid.envs import MultiAgentMicrogrids
from powergrid.envs.trace import TraceRecorder
from powergrid.evaluate import evaluate


def test_the_trace_records_what_the_env_reports(tmp_path):
    env = TraceRecorder(MultiAgentMicrogrids({"max_episode_steps": 5}))
    obs, _ = env.reset(options={"day": 2})
    totals = {a: 0.0 for a in env.possible_agents}
    while env.agents:
        obs, rewards, _, _, infos = env.step({a: env.action_space(a).sample() for a in env.agents})
        for a in rewards:
            totals[a] += rewards[a]
    frame = env.frame()
    assert len(frame) == 5 and list(frame["step"]) == [1, 2, 3, 4, 5] and (frame["day"] == 2).all()
    for a in env.possible_agents:
        assert frame[f"{a}/reward"].sum() == pytest.approx(totals[a], rel=1e-6)
    last = frame.iloc[-1]
    np.testing.assert_allclose([last[f"MG1/{n.split(' [')[0]}"] for n in env.observation_names("MG1")], obs["MG1"], rtol=1e-6)
    for suffix in (".csv", ".npz"):
        saved = env.save(tmp_path / f"trace{suffix}")
        assert saved.stat().st_size > 0
    assert pd.read_csv(tmp_path / "trace.csv").shape == frame.shape
    assert set(np.load(tmp_path / "trace.npz").files) == set(frame.columns)
    with pytest.raises(ValueError, match=".csv, .npz or .parquet"):
        env.save(tmp_path / "trace.txt")


def test_evaluate_plays_a_baseline_or_a_policy_file(tmp_path, capsys):
    totals, frame = evaluate("do-nothing", days=2, setup="ieee34_ieee13_simbench")
    assert totals.shape == (2, 3) and sorted(frame["day"].unique()) == [0, 1]
    policy = tmp_path / "mine.py"
    policy.write_text("import numpy as np\n\ndef make_policy(env):\n"
                      "    return lambda obs: {a: np.zeros(env.action_space(a).shape) for a in obs}\n")
    mine, _ = evaluate(str(policy), days=2, setup="ieee34_ieee13_simbench")
    np.testing.assert_allclose(mine, totals)  # no action is doing nothing on this setup
    assert main(["evaluate", "--policy", "rule", "--setup", "ieee34_ieee13_simbench", "--plot", str(tmp_path / "day.png"),
                 "--trace", str(tmp_path / "trace.csv")]) == 0
    assert (tmp_path / "day.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "trace.csv").is_file()
    assert "mean" in capsys.readouterr().out
    with pytest.raises(ValueError, match="Python file"):
        evaluate("best", days=1)
