"""``benchmarks/real_histories.txt`` names the histories the flagship's quality is measured on:
its corpus rows are exactly the histories the shipped prior says it was trained on, and no
history is both in the corpus and among the unseen, judge or fresh ones that judge decisions."""

from __future__ import annotations

from pathlib import Path

from standard_coder.sch.features.cross_repo import CrossRepoPrior

LIST = Path(__file__).resolve().parents[2] / "benchmarks" / "real_histories.txt"


def _rows() -> list[tuple[str, str, str]]:
    rows = []
    for line in LIST.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            repo, folder, role = line.split()
            rows.append((repo, folder, role))
    return rows


def test_the_corpus_rows_are_the_shipped_priors_histories() -> None:
    corpus = sorted(folder for _, folder, role in _rows() if role == "corpus")
    assert corpus == sorted(CrossRepoPrior.builtin().meta["trained_on"])


def test_every_row_is_one_public_repository_with_a_known_role_and_no_history_twice() -> None:
    rows = _rows()
    assert {role for _, _, role in rows} == {"corpus", "unseen", "judge", "fresh"}
    assert all(repo.count("/") == 1 for repo, _, _ in rows)
    folders = [folder for _, folder, _ in rows]
    assert len(folders) == len(set(folders)) == 263
