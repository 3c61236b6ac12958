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
