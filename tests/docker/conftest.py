"""The image every module here tests, built once per run (cached: seconds when nothing
changed). ZKRS_COMPOSE_SKIP_BUILD=1 uses ZKRS_IMAGE as it is. Without a reachable Docker
daemon every test that needs the image is skipped."""

from __future__ import annotations

import os

import pytest

from dockerutil import BUILD_TIMEOUT_S, IMAGE, docker_reachable, run


@pytest.fixture(scope="session")
def image() -> str:
    if not docker_reachable():
        pytest.skip("no Docker daemon is reachable")
    if os.environ.get("ZKRS_COMPOSE_SKIP_BUILD") != "1":
        run(["bash", "scripts/build-image.sh", IMAGE], timeout=BUILD_TIMEOUT_S)
    return IMAGE
