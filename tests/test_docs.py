"""The docs stay true: every observation table equals what the env returns, and every file the
README and the docs name exists."""
import re
from pathlib import Path

import pytest

from powergrid.envs import MultiAgentMicrogrids

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
TABLE = re.compile(r"<!-- observations: setup (\S+), agent (\S+) -->\s*\n(?:.*\n)*?\| index \| entry \| unit \|\n\|---\|---\|---\|\n((?:\|.*\|\n)+)")
NAMED = re.compile(r"`((?:docs|examples|benchmarks|tests|powergrid|heron)/[\w./-]+\.(?:md|py|png|json|npz))`")


def test_every_observation_table_is_what_the_env_returns():
    found = 0
    for page in PAGES:
        for setup, agent, body in TABLE.findall(page.read_text()):
            env = MultiAgentMicrogrids({"setup": setup})
            meta = env.observation_space(agent).metadata
            rows = [re.match(r"\| (\d+) \| `(.*)` \| (.*) \|", line).groups() for line in body.strip().splitlines()]
            assert [(int(k), n, u) for k, n, u in rows] == [(k, n, u) for k, (n, u) in enumerate(zip(meta["names"], meta["units"]))], \
                f"{page.name}: the table of {agent} in {setup} is not what the env returns"
            found += 1
    assert found >= 2


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_file_a_page_names_exists(page):
    missing = [name for name in NAMED.findall(page.read_text()) if not (ROOT / name).exists()]
    assert not missing, f"{page.name} names files that do not exist: {missing}"


def test_the_readme_is_short():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 160


@pytest.mark.slow
def test_the_readmes_quick_start_runs(capsys):
    text = (ROOT / "README.md").read_text()
    quick = text.split("## Quick start", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(quick, "README quick start", "exec"), {})
    out = capsys.readouterr().out
    assert "% of the optimum's gain over doing nothing" in out
