"""Build small, real git repositories for mining tests (real ``git``, in temp folders).

Every commit has a fixed author/committer date, so commit ids are deterministic for a given git.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

BASE_TS = 1_700_000_000


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        GIT_AUTHOR_NAME="Default",
        GIT_AUTHOR_EMAIL="default@example.com",
        GIT_COMMITTER_NAME="Committer",
        GIT_COMMITTER_EMAIL="committer@example.com",
        GIT_AUTHOR_DATE=f"{BASE_TS} +0000",
        GIT_COMMITTER_DATE=f"{BASE_TS} +0000",
    )
    if extra:
        env.update(extra)
    return env


def git(
    repo: Path, *args: str | bytes, env: Mapping[str, str] | None = None, stdin: bytes | None = None
) -> bytes:
    """Run git in ``repo``; raise with stderr on failure; return stdout."""
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=stdin,
        capture_output=True,
        env=git_env(env),
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {args!r} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def init(path: Path, *, branch: str = "main") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "-q", "-b", branch)
    return path


def commit(
    repo: Path,
    files: Mapping[str | bytes, str | bytes | None],
    message: str | bytes = "change",
    *,
    author: tuple[str, str] = ("Alice", "alice@example.com"),
    ts: int = BASE_TS,
    tz: str = "+0000",
    committer_ts: int | None = None,
    committer: tuple[str, str] | None = None,
) -> str:
    """Write ``files`` (None deletes), stage everything, commit; return the commit id."""
    for rel, content in files.items():
        p = os.path.join(os.fsencode(repo), rel if isinstance(rel, bytes) else os.fsencode(rel))
        if content is None:
            os.unlink(p)
            continue
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as fh:
            fh.write(content.encode() if isinstance(content, str) else content)
    git(repo, "add", "-A")
    msg = message.encode() if isinstance(message, str) else message
    env = {
        "GIT_AUTHOR_NAME": author[0],
        "GIT_AUTHOR_EMAIL": author[1],
        "GIT_AUTHOR_DATE": f"{ts} {tz}",
        "GIT_COMMITTER_DATE": f"{committer_ts if committer_ts is not None else ts} +0000",
    }
    if committer is not None:
        env.update(GIT_COMMITTER_NAME=committer[0], GIT_COMMITTER_EMAIL=committer[1])
    git(repo, "commit", "-q", "--no-verify", "--allow-empty", "-F", "-", env=env, stdin=msg)
    return git(repo, "rev-parse", "HEAD").decode().strip()


def raw_commit(
    repo: Path,
    files: Mapping[str | bytes, str | bytes | None],
    message: bytes,
    *,
    author: bytes,
    ts: int,
    tz: str,
) -> str:
    """A commit written byte for byte (git would otherwise fix non-UTF-8 messages up)."""
    commit(repo, files, "placeholder", ts=ts)  # stage and get a tree
    tree = git(repo, "rev-parse", "HEAD^{tree}").decode().strip()
    parent = git(repo, "rev-parse", "HEAD~1").decode().strip()
    obj = (
        f"tree {tree}\nparent {parent}\n".encode()
        + b"author "
        + author
        + f" {ts} {tz}\n".encode()
        + f"committer Committer <committer@example.com> {ts} +0000\n\n".encode()
        + message
    )
    sha = git(repo, "hash-object", "-t", "commit", "-w", "--stdin", stdin=obj).decode().strip()
    git(repo, "update-ref", "HEAD", sha)
    return sha


def head(repo: Path) -> str:
    return git(repo, "rev-parse", "HEAD").decode().strip()


def py_lines(n: int, seed: str = "x") -> str:
    return "".join(f"{seed}_{i} = {i}\n" for i in range(n))


def small_history(root: Path, n: int) -> Path:
    """``root/repo``: ``n`` Python commits by two authors, 20 minutes apart, and ``root/c.toml``
    mining it into ``root/out`` with two training epochs; returns the config's path."""
    repo = init(root / "repo")
    for i in range(n):
        who = ("Alice", "alice@example.com") if i % 3 else ("Bob", "bob@example.com")
        commit(repo, {f"pkg/m{i % 4}.py": py_lines(5 + 3 * i, f"v{i}")}, f"change {i}",
               author=who, ts=BASE_TS + 1200 * i)  # fmt: skip
    (root / "c.toml").write_text(
        '[repos]\ninclude_paths = ["repo"]\n[outputs]\nbase_dir = "out"\n'
        "[training.optim]\nepochs = 2\n"
    )
    return root / "c.toml"


def build_main_repo(root: Path) -> dict[str, str]:
    """The feature-rich fixture; returns named commit ids.

    Contents: three people in different time zones (one with two emails merged by .mailmap),
    a bot, a merge, a rename, a binary .py-named file, a non-UTF-8 message and path, a commit
    touching no Python, a huge commit (25 files), a submodule, and a hook plus a diff driver that
    would write marker files if git ran them.
    """
    repo = init(root / "main")
    ids: dict[str, str] = {}
    ids["c1"] = commit(
        repo,
        {"app/core.py": py_lines(5), "README.md": "hello\n"},
        "Add core",
        author=("Alice", "alice@example.com"),
        ts=BASE_TS,
        tz="+0530",
    )
    ids["c2"] = commit(
        repo,
        {"app/util.py": py_lines(3, "u")},
        "Add util",
        author=("Bob", "bob@example.com"),
        ts=BASE_TS + 3600,
        tz="-0500",
    )
    ids["c3"] = commit(
        repo,
        {"app/core.py": py_lines(6)},
        "Extend core",
        author=("alice", "Alice.Old@Example.COM"),
        ts=BASE_TS + 7200,
        tz="+0530",
    )
    ids["docs"] = commit(
        repo,
        {"README.md": "hello\nworld\n"},
        "Docs only",
        author=("Bob", "bob@example.com"),
        ts=BASE_TS + 7300,
        tz="-0500",
    )
    ids["bot"] = commit(
        repo,
        {"app/util.py": py_lines(4, "u")},
        "Bump deps",
        author=("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com"),
        ts=BASE_TS + 7400,
    )
    ids["rename"] = commit(
        repo,
        {"app/util.py": None, "app/helpers.py": py_lines(5, "u")},
        "Rename util",
        author=("Bob", "bob@example.com"),
        ts=BASE_TS + 9000,
        tz="-0500",
    )
    ids["binary"] = commit(
        repo,
        {"app/blob.py": b"\x00\x01\x02binary\x00" * 10},
        "Binary",
        author=("Carol", "carol@example.com"),
        ts=BASE_TS + 10000,
        tz="+0100",
    )
    ids["latin1"] = raw_commit(
        repo,
        {b"app/caf\xe9.py": b"name = 'caf\xe9'\n"},
        b"Caf\xe9 fran\xe7ais\n",
        author=b"Jos\xe9 <jose@example.com>",
        ts=BASE_TS + 11000,
        tz="+0100",
    )
    # a branch and a merge (the merge is not mined; the branch commit is)
    git(repo, "checkout", "-q", "-b", "feature")
    ids["feature"] = commit(
        repo,
        {"app/feature.py": py_lines(2, "f")},
        "Feature",
        author=("Bob", "bob@example.com"),
        ts=BASE_TS + 12000,
        tz="-0500",
    )
    git(repo, "checkout", "-q", "main")
    ids["c4"] = commit(
        repo,
        {"app/core.py": py_lines(7)},
        "More core",
        author=("Alice", "alice@example.com"),
        ts=BASE_TS + 12500,
        tz="+0530",
    )
    git(
        repo,
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge feature",
        "feature",
        env={
            "GIT_AUTHOR_DATE": f"{BASE_TS + 13000} +0000",
            "GIT_COMMITTER_DATE": f"{BASE_TS + 13000} +0000",
        },
    )
    ids["merge"] = head(repo)
    ids["huge"] = commit(
        repo,
        {f"gen/m{i:02d}.py": py_lines(30, f"g{i}") for i in range(25)},
        "Huge generated commit",
        author=("Bob", "bob@example.com"),
        ts=BASE_TS + 14000,
        tz="-0500",
    )
    # submodule (a gitlink entry: never a file change)
    sub = init(root / "subsrc")
    commit(sub, {"lib.py": "x = 1\n"}, "sub", ts=BASE_TS)
    git(
        repo,
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        str(sub),
        "vendored",
        env={
            "GIT_AUTHOR_DATE": f"{BASE_TS + 15000} +0000",
            "GIT_COMMITTER_DATE": f"{BASE_TS + 15000} +0000",
        },
    )
    ids["submodule"] = commit(
        repo,
        {"app/with_sub.py": "y = 2\n"},
        "Add submodule",
        author=("Carol", "carol@example.com"),
        ts=BASE_TS + 15000,
        tz="+0100",
    )
    (repo / ".mailmap").write_text("Alice <alice@example.com> alice <Alice.Old@Example.COM>\n")
    ids["mailmap"] = commit(
        repo,
        {},
        "Add mailmap",
        author=("Alice", "alice@example.com"),
        ts=BASE_TS + 16000,
        tz="+0530",
    )
    arm_traps(repo)
    return ids


def arm_traps(repo: Path) -> None:
    """Hooks, a diff driver, textconv and fsmonitor that would each write a marker file."""
    marker = repo.parent / "TRAP_FIRED"
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    for name in (
        "post-checkout",
        "pre-commit",
        "post-commit",
        "reference-transaction",
        "post-index-change",
        "fsmonitor-watchman",
    ):
        h = hooks / name
        h.write_text(f"#!/bin/sh\ntouch '{marker}.{name}'\n")
        h.chmod(0o755)
    (repo / ".gitattributes").write_text("*.py diff=evil\n")
    git(repo, "config", "diff.evil.command", f"touch '{marker}.diffcmd'; true")
    git(repo, "config", "diff.evil.textconv", f'sh -c \'touch "{marker}.textconv"; cat "$0"\'')
    git(repo, "config", "core.fsmonitor", str(hooks / "fsmonitor-watchman"))
    git(repo, "config", "diff.external", f"touch '{marker}.external'")


def traps_fired(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("TRAP_FIRED*"))


def clone_shallow(src: Path, dest: Path, depth: int) -> Path:
    git(src.parent, "clone", "-q", f"--depth={depth}", f"file://{src}", str(dest))
    return dest


def delete_loose_object(repo: Path, oid: str) -> None:
    """Remove one loose object (simulating a damaged or partial clone)."""
    p = repo / ".git" / "objects" / oid[:2] / oid[2:]
    p.chmod(0o644)
    p.unlink()


def failing_git(bin_dir: Path, pattern: str, message: str, *, fail_from: int = 1) -> None:
    """Write a ``git`` into ``bin_dir`` (put it first on PATH) that runs the real git except for
    command lines matching the shell ``case`` ``pattern``: from the ``fail_from``-th such call on
    it prints ``fatal: <message>`` and exits 128, as a broken install or a damaged repository
    would."""
    import shutil

    real_git = shutil.which("git")
    bin_dir.mkdir(parents=True, exist_ok=True)
    count = bin_dir / "matching-calls"
    wrapper = bin_dir / "git"
    wrapper.write_text(
        "#!/bin/sh\n"
        f'case "$*" in {pattern})\n'
        f'  echo x >> "{count}"\n'
        f'  if [ "$(wc -l < "{count}")" -ge {fail_from} ]; then\n'
        f'    echo "fatal: {message}" >&2; exit 128\n'
        "  fi;;\n"
        "esac\n"
        f'exec "{real_git}" "$@"\n'
    )
    wrapper.chmod(0o755)


def counting_git(bin_dir: Path) -> Path:
    """Write a ``git`` into ``bin_dir`` (put it first on PATH) that appends each command line it
    is given to the returned log file, one line per call, then runs the real git: how often a
    command asks git something, counted on the real thing."""
    import shutil

    real_git = shutil.which("git")
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = bin_dir / "calls.log"
    log.touch()
    wrapper = bin_dir / "git"
    wrapper.write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real_git}" "$@"\n')
    wrapper.chmod(0o755)
    return log
