"""Screen lock detection: parsing logind's answer, the probe's argv, and failing quietly."""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence

import pytest

from posture.adapters.screenlock import (
    LogindLockProbe,
    NoLockProbe,
    default_probe,
    parse_locked_hint,
)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("yes\n", True),
        ("no\n", False),
        ("LockedHint=yes\n", True),
        ("LockedHint=no", False),
        ("Id=3\nLockedHint=yes\nState=active\n", True),
        ("\n  no  \n", False),
        ("", None),
        ("maybe", None),
        ("Id=3\n", None),
    ],
)
def test_parse_locked_hint(text: str, expected: bool | None) -> None:
    assert parse_locked_hint(text) is expected


class FakeLoginctl:
    """A runner standing in for loginctl: records each argv, answers from a script."""

    def __init__(self, *answers: tuple[int, str, str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, argv: Sequence[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(list(argv))
        code, out, err = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        return subprocess.CompletedProcess(list(argv), code, out, err)


def test_probe_asks_logind_for_the_session_with_an_argument_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("XDG_SESSION_ID", "c2; rm -rf ~")  # an argument, never shell text
    runner = FakeLoginctl((0, "no\n", ""), (0, "yes\n", ""), (0, "no\n", ""))
    probe = LogindLockProbe(runner=runner)
    assert [probe.locked(), probe.locked(), probe.locked()] == [False, True, False]
    assert runner.calls[0] == [
        "loginctl",
        "show-session",
        "c2; rm -rf ~",
        "-p",
        "LockedHint",
        "--value",
    ]


def test_without_a_session_id_logind_picks_the_callers_session(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("XDG_SESSION_ID", raising=False)
    assert LogindLockProbe(runner=FakeLoginctl((0, "no", ""))).argv()[2] == "auto"


def test_a_failing_logind_is_reported_once_then_left_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runner = FakeLoginctl((1, "", "Failed to connect to bus: Host is down\n"))
    probe = LogindLockProbe("3", runner=runner)
    with caplog.at_level(logging.INFO, logger="posture.adapters.screenlock"):
        assert [probe.locked() for _ in range(5)] == [None] * 5
    assert len(runner.calls) == 1, "no more subprocesses once logind proved unavailable"
    [record] = caplog.records
    assert "Host is down" in record.getMessage()
    assert probe.disabled_reason


def test_missing_loginctl_is_unknown_not_an_error() -> None:
    probe = LogindLockProbe("3", executable="/nonexistent/loginctl")
    assert probe.locked() is None
    assert "could not run" in probe.disabled_reason


def test_real_loginctl_here_answers_or_says_unknown() -> None:
    """On this machine (a container without logind) the real probe must just say unknown."""
    probe = default_probe()
    assert probe.locked() in (True, False, None)


@pytest.mark.parametrize("platform", ["darwin", "win32", "freebsd13"])
def test_other_platforms_have_no_probe_yet(platform: str) -> None:
    probe = default_probe(platform)
    assert isinstance(probe, NoLockProbe)
    assert probe.locked() is None
    assert "not supported" in probe.description
