"""The sch stage chains the README and docs/ write out are the pipeline's own stage list."""

from __future__ import annotations

import re
from pathlib import Path

from standard_coder.pipelines.sch import build

ROOT = Path(__file__).resolve().parents[2]


def test_documented_sch_stage_chains_are_the_pipelines(tmp_path: Path) -> None:
    (tmp_path / "s.json").write_text("{}")
    (tmp_path / "h.json").write_text("{}")
    base = '[repos]\ninclude_paths = ["r"]\n'
    plain = tmp_path / "plain.toml"
    plain.write_text(base)
    sprint = tmp_path / "sprint.toml"
    sprint.write_text(
        base + '[forecasting]\nsprint_inputs_path = "s.json"\nhistorical_outcomes_path = "h.json"\n'
    )
    chains = {
        " → ".join(s.name for s in build(p, []).stages) for p in (plain, sprint)
    }  # fmt: skip
    assert "mine → train_sch → team_output" in chains
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for found in re.findall(r"`(mine(?: → \w+)+)`", doc.read_text(encoding="utf-8")):
            assert found in chains, f"{doc.name}: `{found}` is not a stage list of sch"
