"""Shared test setup: any ERROR logged during a test fails it, unless the test declares it with `allowed_errors`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest


class _ErrorCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class AllowedErrors:
    """Patterns of ERROR log messages a test expects; each must be matched at least once."""

    def __init__(self) -> None:
        self.patterns: list[re.Pattern[str]] = []

    def expect(self, pattern: str) -> None:
        self.patterns.append(re.compile(pattern))


_collector = _ErrorCollector()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_collector)


@pytest.fixture
def allowed_errors() -> AllowedErrors:
    """Declare ERROR log lines this test expects (regex on the formatted message)."""
    return _allowed


_allowed = AllowedErrors()


@pytest.fixture(autouse=True)
def _fail_on_logged_errors() -> Iterator[None]:
    _collector.records.clear()
    _allowed.patterns.clear()
    yield
    unexpected: list[str] = []
    matched: set[int] = set()
    for record in _collector.records:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
        hits = [i for i, p in enumerate(_allowed.patterns) if p.search(text)]
        if hits:
            matched.update(hits)
        else:
            unexpected.append(f"{record.name}: {text}")
    missing = [p.pattern for i, p in enumerate(_allowed.patterns) if i not in matched]
    _collector.records.clear()
    _allowed.patterns.clear()
    if unexpected:
        pytest.fail("ERROR logged during the test:\n" + "\n".join(unexpected), pytrace=False)
    if missing:
        pytest.fail("expected ERROR log lines did not appear: " + ", ".join(missing), pytrace=False)
