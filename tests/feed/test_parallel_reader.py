"""The parallel reader (a child process parses, this one applies) behaves as the single-process
path: the refusal and full-import tests are run again here with every file, whatever its
size, read through the child, and each child must have ended (and its stream copy stopped)
once its import is over, accepted or refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from broker import feed, feed_parse
from tests.feed import test_full_import, test_refusals

#: The same tests, collected here again under the fixture below.
globals().update({name: test for module in (test_refusals, test_full_import)
                  for name, test in vars(module).items() if name.startswith("test_")})


@pytest.fixture(autouse=True)
def every_file_in_a_child(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    started: list[Any] = []
    original = feed_parse._Parallel.__init__

    def spy(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        started.append(self)

    monkeypatch.setattr(feed, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(feed, "_cpus", lambda: 2)  # whatever the machine running the tests
    monkeypatch.setattr(feed_parse._Parallel, "__init__", spy)
    yield
    assert started, "no file went through the child process"
    for reader in started:
        assert reader.child.returncode is not None
        assert not reader.feeder.is_alive()
