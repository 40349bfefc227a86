"""Fast documents tests run on a fake index (docfixtures.FakeIndex); integration tests use the real one."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # docfixtures.py, shared with the plugin and integration tests

from docfixtures import FakeIndex, fake_service  # noqa: E402


@pytest.fixture
def fake_index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def make_service(tmp_path: Path, fake_index: FakeIndex):
    """`make_service(**document_settings)`: DocumentServices sharing one FakeIndex, closed after the test."""
    services = []

    def make(**settings: Any):
        service = fake_service(tmp_path / "data", fake_index, **settings)
        services.append(service)
        return service

    yield make
    for service in services:
        service.close()
