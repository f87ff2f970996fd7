"""Object-store globs match keys as `glob.glob` matches paths on local disk (hidden names
included), list a key that is also a prefix as the object it is, and refuse a key that would
be read under another name."""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest

from jsonl_assets.core.store.object_keys import (
    UnnameableKey,
    key_problem,
    listing_prefix,
    matching_keys,
    pattern_parts,
)

TREE = (
    "a.jsonl",
    ".hidden.jsonl",
    ".a.jsonl.swp.jsonl",
    "b.json",
    "sub/c.jsonl",
    "sub/.e.jsonl",
    "sub/deep/d.jsonl",
    "sub/deep/e.csv",
    "sub/.hid/f.jsonl",
    ".dir/g.jsonl",
    "other/g1.jsonl",
    "other/g2.jsonl",
    "v[1]/h.jsonl",
)


@pytest.mark.parametrize(
    "pattern",
    [
        "*.jsonl",
        "**/*.jsonl",
        "**",
        "*",
        "*/*.jsonl",
        "sub/**",
        "sub/**/*.jsonl",
        "**/deep/*",
        "other/g?.jsonl",
        "other/g[2].jsonl",
        "v[[]1]/*.jsonl",
        ".*.jsonl",
        ".*/*.jsonl",
        "sub/.hid/*.jsonl",
        "sub/**/.e.jsonl",
        "**/.hid/*",
        "a.jsonl",
        "missing/*.jsonl",
        "**/**/*.csv",
        "s*//*.jsonl",
    ],
)
def test_same_matches_as_glob_on_local_disk(tmp_path: Path, pattern: str) -> None:
    for rel in TREE:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("{}\n")
    expected = sorted(  # a set: glob gives a file twice for `**/**`
        {
            os.path.relpath(p, tmp_path)
            for p in glob.glob(str(tmp_path / pattern), recursive=True)
            if os.path.isfile(p)
        }
    )
    prefix = listing_prefix(pattern_parts(pattern))
    listed = [(k, 3) for k in sorted(TREE) if k.startswith(prefix)]
    assert sorted(matching_keys(pattern, listed)) == expected


def test_a_key_that_is_also_a_prefix_is_an_object() -> None:
    listed = [("raw/a.jsonl", 5), ("raw/a.jsonl/b.jsonl", 5), ("raw/c.jsonl", 5)]
    listed.append(("raw/c.jsonl/", 0))  # a folder marker: no byte, never matched
    assert matching_keys("raw/**/*.jsonl", listed) == [
        "raw/a.jsonl",
        "raw/a.jsonl/b.jsonl",
        "raw/c.jsonl",
    ]
    assert matching_keys("raw/*.jsonl", listed) == ["raw/a.jsonl", "raw/c.jsonl"]
    assert matching_keys("raw/**", listed) == [k for k, _ in listed[:3]]


@pytest.mark.parametrize(
    ("key", "pattern", "why"),
    [
        ("raw//a.jsonl", "raw/**", "empty part"),
        ("raw//a.jsonl", "raw/*.jsonl", "empty part"),  # read as raw/a.jsonl, which it matches
        ("/raw/a.jsonl", "**/*.jsonl", "empty part"),
        ("raw/c.jsonl/", "raw/**", "ends with '/'"),
        ("raw/a.jsonl?versionId=v2.jsonl", "raw/*.jsonl", "'?versionId='"),
    ],
)
def test_a_key_read_under_another_name_is_refused(key: str, pattern: str, why: str) -> None:
    listed = [("raw/a.jsonl", 5), (key, 5)]
    with pytest.raises(UnnameableKey, match=why) as caught:
        matching_keys(pattern, listed, ("?versionId=",))
    assert repr(key) in str(caught.value)


def test_an_unnameable_key_the_glob_does_not_match_is_left_alone() -> None:
    listed = [("raw/a.jsonl", 5), ("raw//x.txt", 5), ("raw/y.txt?versionId=1", 5)]
    assert matching_keys("raw/*.jsonl", listed, ("?versionId=",)) == ["raw/a.jsonl"]


def test_key_problem() -> None:
    assert key_problem("raw/a.jsonl", ("?versionId=",)) is None
    assert key_problem("raw/a.jsonl?x=1", ("?versionId=",)) is None
    assert key_problem("data//x") and key_problem("data/x/") and key_problem("/x")
    assert key_problem("x?versionid=1", ("?versionid=",))
