"""Every relative link in the repository's Markdown points at a file that exists, and every `#anchor`
into a Markdown file names one of its headings, slugged as GitHub does."""

import os
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parent.parent
# Installed packages, caches and generated output: not the project's documents.
SKIPPED_DIRS = {
    ".git",
    ".venv",
    ".venv-tools",
    "node_modules",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    "staticfiles",
    "var",
}

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+).+?\1")
# `[text](target)`, `![alt](target)` and `[text](<target> "title")`; the text may hold an image.
INLINE_LINK = re.compile(r"\]\(\s*<?([^)\s>]*)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?([^\s>]+)>?")
HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def markdown_files(root: Path) -> list[Path]:
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        found += [Path(folder) / name for name in sorted(files) if name.endswith(".md")]
    return found


def outside_fences(text: str) -> Iterator[str]:
    """The lines outside fenced code blocks."""
    fence = ""
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence:
            if opening and opening.group(1)[0] == fence[0] and len(opening.group(1)) >= len(fence):
                fence = ""
            continue
        if opening:
            fence = opening.group(1)
            continue
        yield line


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation but hyphens dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for line in outside_fences(markdown.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if heading is None:
            continue
        slug = github_slug(heading.group(1))
        # A repeated heading gets -1, -2, ... as on GitHub.
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        found.add(slug if count == 0 else f"{slug}-{count}")
    return found


def links(markdown: Path) -> Iterator[str]:
    for line in outside_fences(markdown.read_text(encoding="utf-8")):
        prose = INLINE_CODE.sub("", line)
        yield from INLINE_LINK.findall(prose)
        yield from REFERENCE_LINK.findall(prose)


def broken_links(markdown: Path, root: Path) -> list[str]:
    """The relative links in ``markdown`` to a missing file or to a heading its target lacks."""
    broken = []
    for target in links(markdown):
        if not target or SCHEME.match(target) or target.startswith("//"):
            continue
        path_part, _, anchor = target.partition("#")
        path = unquote(path_part)
        if not path:
            resolved = markdown
        elif path.startswith("/"):
            resolved = root / path.lstrip("/")
        else:
            resolved = markdown.parent / path
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and unquote(anchor) not in anchors(resolved):
            broken.append(f"{target}: no heading #{anchor} in {resolved.relative_to(root)}")
    return broken


MARKDOWN = markdown_files(ROOT)


def test_the_documents_are_found() -> None:
    names = {path.relative_to(ROOT).as_posix() for path in MARKDOWN}
    assert {"README.md", "docs/bank-api.md"} <= names


@pytest.mark.parametrize("markdown", MARKDOWN, ids=[p.relative_to(ROOT).as_posix() for p in MARKDOWN])
def test_markdown_links_point_at_existing_files_and_headings(markdown: Path) -> None:
    assert broken_links(markdown, ROOT) == []


@pytest.mark.parametrize(
    ("heading", "slug"),
    [
        ("Statuses", "statuses"),
        ("The simulator's page", "the-simulators-page"),
        ("Choices where the issues were silent", "choices-where-the-issues-were-silent"),
        (
            "Announce an incoming transfer: `POST /incoming-transfers`",
            "announce-an-incoming-transfer-post-incoming-transfers",
        ),
        ("Simulator-only endpoints", "simulator-only-endpoints"),
        ("Look a payout up", "look-a-payout-up"),
        ("[The API](docs/design.md) and its errors", "the-api-and-its-errors"),
        ("ledger_check and friends", "ledger_check-and-friends"),
    ],
)
def test_github_slug_matches_githubs_anchors(heading: str, slug: str) -> None:
    assert github_slug(heading) == slug


def test_broken_links_reports_missing_files_and_headings(tmp_path: Path) -> None:
    # given a small tree of documents
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## Setting up\n\n## Setting up\n")
    (tmp_path / ".env.example").write_text("A=1\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Project\n\n"
        "## Quick start\n\n"
        "[ok](docs/guide.md) [ok](docs/guide.md#setting-up) [ok](docs/guide.md#setting-up-1)\n"
        "[ok](#quick-start) [ok](.env.example) ![ok](docs/) [ok](https://example.com/missing.md)\n"
        "[ok](mailto:someone@example.com) `[not a link](nowhere.md)`\n"
        "```\n[not a link](nowhere.md)\n```\n"
        "[missing](docs/gone.md) [bad anchor](docs/guide.md#tear-down) [bad anchor](#nowhere)\n"
        "[bad anchor](docs/guide.md#setting-up-2)\n"
        "[reference]: docs/also-gone.md\n"
    )
    # when
    broken = broken_links(readme, tmp_path)
    # then
    assert broken == [
        "docs/gone.md: no such file",
        "docs/guide.md#tear-down: no heading #tear-down in docs/guide.md",
        "#nowhere: no heading #nowhere in README.md",
        "docs/guide.md#setting-up-2: no heading #setting-up-2 in docs/guide.md",
        "docs/also-gone.md: no such file",
    ]
