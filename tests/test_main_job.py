from heron.__main__ import main, run


def test_modes_agree_step_by_step():
    central, _ = run("centralized", 50, seed=3)
    distributed, _ = run("distributed", 50, seed=3)
    assert len(central) == len(distributed) == 50
    for a, b in zip(central, distributed):
        assert (a == b).all()


def test_main_prints_the_comparison_table(capsys):
    assert main(["--steps", "20"]) == 0
    out = capsys.readouterr().out
    assert "centralized" in out and "distributed" in out and "steps/s" in out


def test_powergrid_main_job_takes_a_setup_a_config_and_a_seed(tmp_path, capsys):
    import json

    from powergrid.__main__ import main as powergrid_main

    config = tmp_path / "short.json"
    config.write_text(json.dumps({"max_episode_steps": 2}))
    assert powergrid_main(["--episodes", "1", "--setup", "ieee34_ieee13_simbench", "--config", str(config), "--seed", "4"]) == 0
    out = capsys.readouterr().out
    assert "Setup ieee34_ieee13_simbench, rule-based control, 1 test days of 2 h" in out
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines() if line.startswith(("centralized", "distributed"))}
    assert rows["centralized"] == rows["distributed"]
