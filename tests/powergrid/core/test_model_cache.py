"""The model cache: a model built once is read from a file by the next process, and a file that
is damaged, from other code, or switched off never changes what an env does."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from powergrid.core import model_cache
from powergrid.envs import MultiAgentMicrogrids
from powergrid.setups import load_setup

ROOT = Path(__file__).resolve().parents[3]


def run(code: str, folder: Path) -> str:
    env = dict(os.environ, POWERGRID_CACHE=str(folder))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout


FIRST_STEPS = """
import numpy as np
from powergrid.core.model import GridModel
{guard}
from powergrid.envs import MultiAgentMicrogrids
env = MultiAgentMicrogrids({{"setup": "ieee34_ieee13_simbench"}})
env.reset(seed=3)
rng = np.random.default_rng(0)
for _ in range(5):
    out = env.step({{a: rng.uniform(env.action_space(a).low, env.action_space(a).high) for a in env.agents}})
print(repr(sorted(out[1].items())))
"""
NO_BUILD = "GridModel.__init__ = lambda self, config: (_ for _ in ()).throw(AssertionError('built, not read'))"


def test_the_next_process_reads_the_model_and_steps_alike(tmp_path):
    first = run(FIRST_STEPS.format(guard=""), tmp_path)
    files = list(tmp_path.glob("model-*.pkl"))
    assert len(files) == 1 and not list(tmp_path.glob(".model-*"))
    second = run(FIRST_STEPS.format(guard=NO_BUILD), tmp_path)  # the build is forbidden: it must come from the file
    assert second == first


def test_a_damaged_file_is_built_again_and_rewritten(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERGRID_CACHE", str(tmp_path))
    model_cache._BUILT.clear()
    reference = MultiAgentMicrogrids().core.model
    (path,) = tmp_path.glob("model-*.pkl")
    path.write_bytes(path.read_bytes()[:1000])
    model_cache._BUILT.clear()
    rebuilt = MultiAgentMicrogrids().core.model
    assert rebuilt.agent_ids == reference.agent_ids and np.array_equal(rebuilt.profiles["train"], reference.profiles["train"])
    assert path.stat().st_size > 1000  # rewritten whole


def test_other_code_or_a_switched_off_cache_never_reads_the_file(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERGRID_CACHE", str(tmp_path))
    model_cache._BUILT.clear()
    MultiAgentMicrogrids()
    assert len(list(tmp_path.glob("model-*.pkl"))) == 1
    model_cache._code.cache_clear()
    monkeypatch.setattr(model_cache, "SHAPING", model_cache.SHAPING[:-1])  # as if the code had changed
    model_cache._BUILT.clear()
    MultiAgentMicrogrids()
    assert len(list(tmp_path.glob("model-*.pkl"))) == 2
    model_cache._code.cache_clear()
    monkeypatch.setenv("POWERGRID_CACHE", "off")
    assert model_cache.cache_folder() is None
    model_cache._BUILT.clear()
    MultiAgentMicrogrids({"microgrid_configs": load_setup("ieee34_ieee13")["microgrid_configs"][:1]})
    assert len(list(tmp_path.glob("model-*.pkl"))) == 2


def test_an_unwritable_folder_is_named_and_the_env_still_builds(tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the folder should be")
    monkeypatch.setenv("POWERGRID_CACHE", str(blocked / "cache"))
    model_cache._BUILT.clear()
    with pytest.warns(RuntimeWarning, match="could not keep the built model in .*set POWERGRID_CACHE to a writable folder"):
        env = MultiAgentMicrogrids()
    assert env.possible_agents == ["MG1", "MG2", "MG3"]


def test_the_folder_keeps_the_models_used_last(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERGRID_CACHE", str(tmp_path))
    monkeypatch.setattr(model_cache, "FILES_LIMIT", 2)
    model_cache._BUILT.clear()
    microgrids = load_setup("ieee34_ieee13")["microgrid_configs"]
    for k in (1, 2, 3):
        MultiAgentMicrogrids({"microgrid_configs": microgrids[:k]})
    kept = sorted(tmp_path.glob("model-*.pkl"), key=lambda p: p.stat().st_mtime_ns)
    assert len(kept) == 2
    model_cache._BUILT.clear()
    MultiAgentMicrogrids({"microgrid_configs": microgrids[:2]})  # read from its file: now the newest
    assert max(tmp_path.glob("model-*.pkl"), key=lambda p: p.stat().st_mtime_ns) == kept[0]


SOLVER_LIBRARIES = "('pandapower', 'pandas', 'numba', 'scipy', 'lightsim2grid')"


def test_importing_the_envs_loads_no_solver_library(tmp_path):
    out = run(f"import sys, powergrid.envs\nprint([m for m in {SOLVER_LIBRARIES} if m in sys.modules])", tmp_path)
    assert out.strip() == "[]"


def test_an_env_read_from_the_file_steps_without_pandapower_and_reads_its_net_when_asked(tmp_path):
    first = run(FIRST_STEPS.format(guard=""), tmp_path)
    after = "import sys\nprint('pandapower' in sys.modules)\nprint(len(env.net.bus), len(env.core.backend.net.bus), 'pandapower' in sys.modules)\n"
    out = run(FIRST_STEPS.format(guard=NO_BUILD) + after, tmp_path).splitlines()
    buses = len(MultiAgentMicrogrids({"setup": "ieee34_ieee13_simbench"}).net.bus)
    assert out == [first.strip(), "False", f"{buses} {buses} True"]


def test_envs_from_one_kept_model_have_nets_of_their_own(tmp_path, monkeypatch):
    monkeypatch.setenv("POWERGRID_CACHE", str(tmp_path))
    model_cache._BUILT.clear()
    a, b = MultiAgentMicrogrids(), MultiAgentMicrogrids()
    before = b.net.load.p_mw.to_numpy().copy()
    a.net.load.p_mw *= 2.0
    assert a.net is a.model.net and a.core.backend.net is a.net  # one net per env, shared by its model and backend
    assert np.array_equal(b.net.load.p_mw.to_numpy(), before)


def test_an_env_read_from_the_file_is_built_and_steps_without_pandas(tmp_path):
    """lightsim2grid's package import tries its Grid2Op backend, whose module imports pandas
    (0.3 s) before it fails on the missing grid2op: a warm construction paid that."""
    run(FIRST_STEPS.format(guard=""), tmp_path)
    out = run(FIRST_STEPS.format(guard=NO_BUILD) + "import sys\nprint('pandas' in sys.modules, 'lightsim2grid' in sys.modules)\n", tmp_path)
    assert out.splitlines()[-1] == "False True"


def test_with_grid2op_installed_lightsim2grid_is_imported_whole(tmp_path):
    """The Grid2Op backend is skipped only when Grid2Op is missing: with it, lightsim2grid's own
    import runs as it is (here a stand-in grid2op that lightsim2grid's backend cannot use)."""
    (tmp_path / "grid2op").mkdir()
    (tmp_path / "grid2op" / "__init__.py").write_text("")
    env = dict(os.environ, POWERGRID_CACHE=str(tmp_path), PYTHONPATH=str(tmp_path))
    code = "import sys\nfrom powergrid.powerflow.lightsim import LightSimBackend\nprint('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env=env).stdout
    assert out.strip() == "True"
