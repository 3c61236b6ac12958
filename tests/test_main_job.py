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


def test_bad_cli_input_is_one_line(capsys, tmp_path):
    import pytest

    from powergrid.__main__ import main as powergrid_main

    for argv, expected in ((["site", "MG1", "--broker", "redis://x", "--env-id", "e", "--idle-timeout", "nan"], "finite number > 0"),
                           (["site", "MG1", "--broker", "redis://x", "--env-id", "e", "--idle-timeout", "-5"], "finite number > 0"),
                           (["robustness", "--days", "1e20"], "positive whole number"),
                           (["evaluate", "--seed", "-5"], "seed, a whole number >= 0")):
        with pytest.raises(SystemExit):
            powergrid_main(argv)
        assert expected in capsys.readouterr().err
    assert powergrid_main(["evaluate", "--policy", str(tmp_path / "missing.py")]) == 1  # a runtime error: one line
    err = capsys.readouterr().err
    assert err.startswith("error: --policy must be one of") and "Traceback" not in err and err.count("\n") == 1
    with pytest.raises(ValueError, match="--policy"):
        powergrid_main(["--debug", "evaluate", "--policy", str(tmp_path / "missing.py")])


def test_heron_main_refuses_bad_numbers_in_one_line(capsys):
    import pytest

    for argv in (["--steps", "0"], ["--steps", "1e9"], ["--seed", "-1"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "expected a whole number" in capsys.readouterr().err
