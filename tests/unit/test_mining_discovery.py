"""Repository discovery and ids."""

from __future__ import annotations

import subprocess
from pathlib import Path

from standard_coder.sch.mining import discover_repos, repo_id


def test_repo_id_is_safe_and_unique(tmp_path: Path) -> None:
    a = repo_id(tmp_path / "a" / "my repo")
    b = repo_id(tmp_path / "b" / "my repo")
    assert a.startswith("my_repo-") and b.startswith("my_repo-") and a != b
    assert repo_id(tmp_path / "..") != ".."
    weird = repo_id(Path("/x/../../etc/.."))
    assert "/" not in weird and not weird.startswith(".")
    assert repo_id(tmp_path / "proj.git").startswith("proj-")
    assert repo_id(tmp_path / "a" / "my repo") == a  # stable


def test_discover_globs_literals_and_excludes(tmp_path: Path) -> None:
    for name in ("one", "two", "skip"):
        subprocess.run(["git", "init", "-q", str(tmp_path / "code" / name)], check=True)
    (tmp_path / "code" / "not_a_repo").mkdir()
    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "bare.git")], check=True)
    got = discover_repos(
        [str(tmp_path / "code" / "*"), str(tmp_path / "bare.git"), str(tmp_path / "missing")],
        [str(tmp_path / "code" / "skip")],
    )
    names = [p.name for p in got]
    # a wildcard keeps repositories only; a literal path is kept (the miner reports it)
    assert names == ["bare.git", "one", "two", "missing"]


def test_a_folder_in_a_repository_stands_for_it_and_one_repository_is_listed_once(
    tmp_path: Path,
) -> None:
    from standard_coder.sch.mining.discovery import explain_repos

    repo = tmp_path / "code" / "one"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(repo)
    found = explain_repos([str(repo / "pkg" / "sub"), str(tmp_path / "alias")])
    assert found.repos == [repo]  # the real path wins over the symlink
    assert found.notes == [
        f"{repo / 'pkg' / 'sub'} is inside the repository {repo}: its whole history is mined",
        f"{tmp_path / 'alias'} is the repository {repo} by another path: mined once, as {repo}",
    ]
    # the symlink alone keeps its own path (and so the id it was mined under)
    assert explain_repos([str(tmp_path / "alias" / "pkg")]).repos == [tmp_path / "alias"]
    # a folder in no repository is returned as written, for the miner to name
    (tmp_path / "plain").mkdir()
    assert discover_repos([str(tmp_path / "plain")]) == [tmp_path / "plain"]


def test_a_folder_of_repositories_stands_for_them_even_inside_a_home_repository(
    tmp_path: Path,
) -> None:
    """``include_paths = ["~/code"]``: the repositories in it are mined, not the dotfiles
    repository a home folder may be (nor an error that it is no repository)."""
    from standard_coder.sch.mining.discovery import explain_repos

    home = tmp_path / "home"
    subprocess.run(["git", "init", "-q", str(home)], check=True)  # dotfiles
    for name in ("a", "b"):
        subprocess.run(["git", "init", "-q", str(home / "code" / name)], check=True)
    (home / "code" / "notes").mkdir()
    found = explain_repos([str(home / "code")])
    assert found.repos == [home / "code" / "a", home / "code" / "b"]
    assert found.notes == [f"{home / 'code'} is not a repository; the 2 it holds are mined"]
    # a folder without repositories in it still stands for the repository around it
    assert explain_repos([str(home / "code" / "notes")]).repos == [home]
