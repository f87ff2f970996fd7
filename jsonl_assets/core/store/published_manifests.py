"""Which metadata.json documents this work dir published.

Before a build publishes metadata.json it records the document's SHA-256 in
`<work_dir>/manifest/published.json` (the last `KEPT` of them: a publish that then fails
leaves one extra entry, harmless). `package_files.check_dataset` asks it whether the
package's metadata.json, when it names another `dataset.name`, is one this work dir
published (the same dataset renamed with its work dir kept) or another dataset's: shards are
content-addressed, so two datasets built from the same sources share shard files, and the
work dir having recorded some (or all) of a package's shards does not make it the builder of
that package. A work dir from before this record (`None`) falls back on its ledgers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Final

import orjson

from jsonl_assets.core.store.atomic_files import write_atomic
from jsonl_assets.core.store.base import read_bytes

PUBLISHED_FILE: Final = "published.json"
KEPT: Final = 16


def published_path(work_dir: Path) -> Path:
    return work_dir / "manifest" / PUBLISHED_FILE


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def published_digests(work_dir: Path) -> list[str] | None:
    """The SHA-256 of the metadata.json documents this work dir published, oldest first;
    None when it never recorded any (a fresh work dir, or one from before this record)."""
    try:
        doc = orjson.loads(read_bytes(published_path(work_dir)))
    except FileNotFoundError:
        return None
    except orjson.JSONDecodeError:
        return []
    digests = doc.get("sha256") if isinstance(doc, dict) else None
    return [d for d in digests if isinstance(d, str)] if isinstance(digests, list) else []


def note_published(work_dir: Path, data: bytes) -> None:
    """Record that this work dir is about to publish the metadata.json `data` (called before
    the publication, so a build killed between the two still knows its package)."""
    new = digest(data)
    kept = [d for d in published_digests(work_dir) or [] if d != new][-(KEPT - 1) :]
    write_atomic(published_path(work_dir), orjson.dumps({"sha256": [*kept, new]}))
