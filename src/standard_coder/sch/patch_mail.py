"""``git format-patch`` mails as text: a series split into its mails, and each mail's subject,
message body and the commit it was made of. Pure text, no git: ``sch.estimate`` prices what
they describe."""

from __future__ import annotations

import re
from contextlib import suppress

_MAIL_START = re.compile(r"^From [0-9a-f]{40,64} Mon Sep 17 00:00:00 2001$", re.M)
"""The first line of each mail ``git format-patch`` writes (its fixed mbox date)."""


def split_patch_series(text: str) -> list[str]:
    """The mails of a ``git format-patch --stdout`` series, one per commit; a single patch or a
    plain diff is one part."""
    starts = [m.start() for m in _MAIL_START.finditer(text)]
    if len(starts) < 2:
        return [text]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def patch_subject(text: str) -> str:
    """The subject of a ``git format-patch`` mail (its ``Subject:`` header before the diff, less
    ``[PATCH ...]`` / ``[RFC PATCH]`` tags; a folded header's next lines joined, an encoded
    word decoded); ``""`` for a plain diff."""
    from email.header import decode_header, make_header

    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(("diff --git", "--- ", "@@")):
            break
        if line.startswith("Subject:"):
            subject = line[len("Subject:") :]
            for more in lines[i + 1 :]:
                if not more.startswith((" ", "\t")):
                    break
                subject += more
            with suppress(ValueError, LookupError, UnicodeDecodeError):  # else as written
                subject = str(make_header(decode_header(subject)))
            return re.sub(r"^\s*(\[[^\]]*PATCH[^\]]*\]\s*)+", "", subject).strip()
    return ""


def patch_body(text: str) -> str | None:
    """The message body of a ``git format-patch`` mail (after its headers, up to the ``---``
    line before the diffstat or the diff itself); None for a plain diff (no message: unknown)."""
    lines = text.splitlines()
    end_of_headers = next((i for i, x in enumerate(lines) if not x.strip()), len(lines))
    if not any(x.startswith("Subject:") for x in lines[:end_of_headers]):
        return None
    body: list[str] = []
    for line in lines[end_of_headers + 1 :]:
        if line.rstrip() == "---" or line.startswith(("diff --git", "--- ", "@@")):
            break
        body.append(line)
    return "\n".join(body).strip("\n")


def patch_commit_id(text: str) -> str | None:
    """The commit a ``git format-patch`` mail was made of (its ``From <id> Mon Sep 17 ...``
    first line); None for a plain diff."""
    m = _MAIL_START.match(text.lstrip("\n"))
    return m.group(0).split()[1] if m else None
