"""Every example file runs to the end."""
import pathlib
import runpy

import pytest

pytestmark = pytest.mark.slow  # every example end to end: run by CI, left out of the quick loop

ROOT = pathlib.Path(__file__).resolve().parents[1]
NEEDS_RL_EXTRA = {"ppo_batched.py"}  # torch and matplotlib; run briefly below
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if p.name not in NEEDS_RL_EXTRA)


def test_there_are_examples():
    assert {p.name for p in EXAMPLES} >= {"mode_comparison.py", "distributed_with_proxy.py",
                                           "event_driven_powergrid.py", "event_driven_workflow.py"}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path, capsys):
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()


def test_ppo_example_trains_and_stays_below_the_optimum(tmp_path, capsys):
    """Two PPO updates and one test day: the script's own exploit check passes and the curve is drawn."""
    pytest.importorskip("torch", reason="the rl extra is not installed")
    pytest.importorskip("matplotlib", reason="the rl extra is not installed")
    example = runpy.run_path(str(ROOT / "examples" / "ppo_batched.py"))
    plot = tmp_path / "curve.png"
    status = example["main"](["--total-steps", "3072", "--num-envs", "64", "--eval-days", "1", "--plot", str(plot),
                               "--save", str(tmp_path / "policy.pt"), "--tensorboard", str(tmp_path / "runs")])
    out = capsys.readouterr().out
    assert status == 0 and "optimum" in out and "PPO" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and (tmp_path / "policy.pt").stat().st_size > 0
