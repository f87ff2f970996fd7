"""What a test sees of an object-storage server on loopback (moto's S3, fake-gcs-server,
Azurite): its scheme, a bucket of the test's own, and the environment that points clients at
the server. `object_store` runs a test once per backend."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest


@dataclass(frozen=True)
class ObjectServer:
    scheme: str
    endpoint: str
    bucket: str
    env: dict[str, str] = field(default_factory=dict)

    def url(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


def pending_uploads(store: object, folder: str) -> list[str] | None:
    """The unfinished uploads under `folder`, where the backend can list them (S3, Azure; not
    GCS, whose API lists no resumable upload)."""
    listing = getattr(store, "incomplete_uploads", None)
    return None if listing is None else sorted(listing(folder))


BACKEND_FIXTURES = {"s3": "s3", "gs": "gcs", "az": "azure"}


@pytest.fixture(params=sorted(BACKEND_FIXTURES))
def object_store(request: pytest.FixtureRequest) -> ObjectServer:
    """A bucket on each loopback server in turn (the test runs once per backend)."""
    server: ObjectServer = request.getfixturevalue(BACKEND_FIXTURES[request.param])
    return server
