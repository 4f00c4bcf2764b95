"""Progress bars: on for a terminal, off for pipes, CI logs, or by FTSDK_NO_PROGRESS."""

from __future__ import annotations

import io
import sys

import pytest

from ftsdk.progress import progress_bar, progress_enabled


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_for_a_terminal_off_by_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", Terminal())
    monkeypatch.delenv("FTSDK_NO_PROGRESS", raising=False)
    assert progress_enabled()
    for value in ("1", "true", "yes"):
        monkeypatch.setenv("FTSDK_NO_PROGRESS", value)
        assert not progress_enabled()
    monkeypatch.setenv("FTSDK_NO_PROGRESS", "0")
    assert progress_enabled()


def test_off_when_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    monkeypatch.delenv("FTSDK_NO_PROGRESS", raising=False)
    assert not progress_enabled()
    with progress_bar(desc="job") as bar:
        bar.update(3)
    assert sys.stderr.getvalue() == ""


def test_forced_on_draws_a_bar() -> None:
    out = io.StringIO()
    with progress_bar(desc="ftjob-1", total=10, enabled=True, file=out) as bar:
        bar.update(5)
    assert "ftjob-1" in out.getvalue()
    assert "5/10" in out.getvalue()
