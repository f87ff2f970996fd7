"""Files on disk: atomic writes, locks, work files, package ownership, hashes."""
