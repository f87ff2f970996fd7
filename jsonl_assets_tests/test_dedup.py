from __future__ import annotations

from jsonl_assets.core.dedup import SeenIds, id_digest


def test_reports_first_position_within_and_across_batches() -> None:
    seen = SeenIds()
    ids = ["a", "b", "a", "c", "b", "d", "a"]
    first = seen.add_batch([id_digest(i) for i in ids[:4]], [10, 11, 12, 13])
    assert first == [(2, 10)]
    second = seen.add_batch([id_digest(i) for i in ids[4:]], [14, 15, 16])
    assert second == [(0, 11), (2, 10)]
    assert len(seen) == 4


def test_many_runs_stay_compact_and_exact() -> None:
    seen = SeenIds()
    dups = []
    total = 60_000
    for start in range(0, total, 5000):
        ids = [f"id-{i % 50_000}" for i in range(start, start + 5000)]
        for j, pos in seen.add_batch([id_digest(x) for x in ids], list(range(start, start + 5000))):
            dups.append((start + j, pos))
    assert len(seen) == 50_000
    assert dups == [(i, i - 50_000) for i in range(50_000, total)]
    assert seen.nbytes() / len(seen) <= 32
    assert seen.frame().height == 50_000


def test_matches_a_dict_on_random_batches_with_repeats_everywhere() -> None:
    """Repeats inside a batch, across batches, inside a batch of an id seen in an earlier
    batch, and digests sharing their high half: the first position of each, as a dict says."""
    import random

    rng = random.Random(5)
    pool = [id_digest(f"id-{i}") for i in range(3000)]
    # Pairs that share the high 8 bytes (the lookup walks entries with equal `hi`).
    pool += [pool[k][:8] + bytes(8 - len(str(k))) + str(k).encode() for k in range(50)]
    seen, reference = SeenIds(), {}
    position = 0
    for _ in range(12):
        size = rng.choice([1, 7, 500, 2000])
        batch = [rng.choice(pool) for _ in range(size)]
        positions = list(range(position, position + size))
        expected = []
        for k, digest in enumerate(batch):
            if digest in reference:
                expected.append((k, reference[digest]))
            else:
                reference[digest] = positions[k]
        assert seen.add_batch(batch, positions) == expected
        position += size
    assert len(seen) == len(reference)
