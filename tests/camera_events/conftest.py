"""Fixtures shared by the camera-event tests."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from agent.cameras.push_consumer import NotifyConsumer


@pytest.fixture
def consumer() -> Iterator[NotifyConsumer]:
    """The agent's push consumer, served by its worker loop on a thread (as under the
    supervisor)."""
    consumer = NotifyConsumer()
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), name="test-push-consumer")
    thread.start()
    yield consumer
    stop.set()
    thread.join(5)
    consumer.close()
    assert not thread.is_alive()
