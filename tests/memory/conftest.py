"""Memory test fixtures: a service on a private data folder, with a small in-memory index for fast tests."""

from __future__ import annotations

import pytest

from assistant.memory.service import MemoryService
from assistant.paths import resolve_paths
from assistant.settings import Settings
from tests.memory.fakes import FakeIndex


@pytest.fixture
def fake_index() -> FakeIndex:
    return FakeIndex()


@pytest.fixture
def settings() -> Settings:
    return Settings()


@pytest.fixture
def memory(fake_index: FakeIndex, settings: Settings):
    """A MemoryService on this test's private data folder, searching the fake index."""
    service = MemoryService(resolve_paths().ensure().data_dir, settings, index_factory=lambda: fake_index)
    yield service
    service.close()
