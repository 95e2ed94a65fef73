"""The mined-commits database's tables (``<base_dir>/raw/mined_commits.sqlite``), one place.

``store`` creates and upgrades them, ``canonical`` rewrites them in a fixed order; the columns
are documented in ``docs/mining.md``.
"""

from __future__ import annotations

__all__ = ["CONTENT_TABLES", "SCHEMA", "SCHEMA_VERSION"]

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    repo TEXT PRIMARY KEY,          -- sanitised folder name + '-' + 8 hex of the path's sha256
    path TEXT NOT NULL,             -- absolute path of the repository
    name TEXT NOT NULL,             -- folder name
    is_shallow INTEGER NOT NULL,    -- 1: shallow clone (history cut; boundary commits skipped)
    is_bare INTEGER NOT NULL,
    head TEXT                       -- HEAD commit when last fully mined (NULL: empty/unfinished)
);
CREATE TABLE IF NOT EXISTS mine_state (
    repo TEXT PRIMARY KEY,
    refs_key TEXT,                  -- digest of refs + .mailmap + options; set when fully mined
    extract_key TEXT NOT NULL,      -- digest of extraction options; change -> repo remined
    chunks_done INTEGER NOT NULL DEFAULT 0,
    commits_done INTEGER NOT NULL DEFAULT 0,
    n_author_filtered INTEGER NOT NULL DEFAULT 0  -- listed commits dropped by the author filter
);
CREATE TABLE IF NOT EXISTS commits (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    parents TEXT NOT NULL,          -- space-separated parent ids ('' for a root commit)
    author_name TEXT NOT NULL,      -- through .mailmap
    author_email TEXT NOT NULL,     -- through .mailmap
    author_id TEXT NOT NULL,        -- lower-cased mailmapped email: the identity
    authored_at INTEGER NOT NULL,   -- unix seconds
    author_tz_offset_min INTEGER NOT NULL,  -- minutes east of UTC (-0500 -> -300)
    committed_at INTEGER NOT NULL,  -- unix seconds
    subject TEXT NOT NULL,
    n_files INTEGER NOT NULL,       -- configured-language files touched (before the cap)
    lines_added INTEGER NOT NULL,   -- over those files
    lines_deleted INTEGER NOT NULL,
    truncated INTEGER NOT NULL,     -- 1: file/line cap hit, or patch cut; not every file stored
    committer_email TEXT,           -- raw committer email (NULL: mined before it was kept)
    PRIMARY KEY (repo, commit_id)
);
CREATE INDEX IF NOT EXISTS commits_by_author ON commits (author_id, authored_at);
CREATE TABLE IF NOT EXISTS file_changes (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    idx INTEGER NOT NULL,           -- order within the commit (git's diff order)
    path TEXT NOT NULL,
    old_path TEXT,                  -- source path of a rename/copy, else NULL
    change_type TEXT NOT NULL,      -- git status letter: A, M, D, R, C, T
    language TEXT NOT NULL,
    lines_added INTEGER NOT NULL,
    lines_deleted INTEGER NOT NULL,
    is_binary INTEGER NOT NULL,
    diff BLOB,                      -- zlib(unified diff hunks, no headers); NULL if none/over cap
    old_oid TEXT NOT NULL,          -- blob ids (40 zeros: absent side)
    new_oid TEXT NOT NULL,
    missing_object INTEGER NOT NULL, -- 1: object missing from the clone, file not diffed
    PRIMARY KEY (repo, commit_id, idx)
);
CREATE TABLE IF NOT EXISTS blobs (
    oid TEXT PRIMARY KEY,           -- git blob id: contents shared by every commit using it
    size INTEGER NOT NULL,          -- uncompressed bytes
    content BLOB NOT NULL           -- zlib(content)
);
CREATE TABLE IF NOT EXISTS skipped_commits (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,
    reason TEXT NOT NULL,           -- no_language_files | shallow_boundary | future_dated
    PRIMARY KEY (repo, commit_id)
);
CREATE TABLE IF NOT EXISTS pull_commits (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a GitHub squash merge (merge-stamped commit)
    pr_commit_id TEXT NOT NULL,     -- one of its pull request's commits (refs/pull/<n>/head)
    authored_at INTEGER NOT NULL,   -- that commit's author date, unix seconds
    author_tz_offset_min INTEGER NOT NULL,
    author_id TEXT NOT NULL,        -- that commit's lower-cased mailmapped author email
    PRIMARY KEY (repo, commit_id, pr_commit_id)
);
CREATE TABLE IF NOT EXISTS merge_commits (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a merge commit reachable from HEAD (not mined as a change)
    authored_at INTEGER NOT NULL,   -- its author date, unix seconds
    author_tz_offset_min INTEGER NOT NULL,
    author_id TEXT NOT NULL,        -- its lower-cased mailmapped author email
    PRIMARY KEY (repo, commit_id)
);
CREATE TABLE IF NOT EXISTS other_commits (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a skipped commit touching no enabled language (not a change)
    authored_at INTEGER NOT NULL,   -- its author date, unix seconds
    author_tz_offset_min INTEGER NOT NULL,
    author_id TEXT NOT NULL,        -- its lower-cased mailmapped author email
    PRIMARY KEY (repo, commit_id)
);
CREATE TABLE IF NOT EXISTS commit_files (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a mined commit: every file it touches, of any language
    other_lines_added INTEGER NOT NULL,   -- in files the token counts do not see (docs, config)
    other_lines_deleted INTEGER NOT NULL,
    doc_lines_added INTEGER NOT NULL,     -- of which documentation (.rst .md .txt .adoc, docs/)
    config_lines_added INTEGER NOT NULL,  -- of which configuration (.toml .cfg .ini .yml .json)
    files INTEGER NOT NULL,         -- files touched, any language
    folders INTEGER NOT NULL,       -- distinct folders of those files
    counted_by INTEGER NOT NULL,    -- mining.file_stats.VERSION that counted the row
    PRIMARY KEY (repo, commit_id)
);
CREATE TABLE IF NOT EXISTS commit_bodies (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a mined commit: its message after the subject (git's %b)
    body TEXT NOT NULL,             -- trailers included; '' for a one-line message
    read_by INTEGER NOT NULL,       -- mining.message_body.VERSION that read the row
    PRIMARY KEY (repo, commit_id)
);
CREATE TABLE IF NOT EXISTS commit_coauthors (
    repo TEXT NOT NULL,
    commit_id TEXT NOT NULL,        -- a mined commit: its message's Co-authored-by trailers
    coauthors TEXT NOT NULL,        -- their values ('Name <email>'), one per line; '' for none
    read_by INTEGER NOT NULL,       -- mining.coauthors.VERSION that read the row
    PRIMARY KEY (repo, commit_id)
);
"""

CONTENT_TABLES = (  # every table of rows the mine writes, for the canonical dump
    "repos",
    "commits",
    "file_changes",
    "skipped_commits",
    "pull_commits",
    "merge_commits",
    "other_commits",
    "commit_files",
    "commit_bodies",
    "commit_coauthors",
)
