"""The pipeline stages, each a plain function over the partition's files."""
