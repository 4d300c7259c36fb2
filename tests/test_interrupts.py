"""Ctrl-C and SIGTERM wait for a native pose call to end (posture.interrupts)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from posture import interrupts
from posture.adapters.pose import MediaPipePose
from posture.cli import Terminated, _terminate_as_interrupt


@pytest.fixture()
def cli_handlers() -> Iterator[None]:
    """The CLI's SIGTERM and SIGINT handlers, as `posture` installs them; restored after."""
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}
    _terminate_as_interrupt()
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


@pytest.mark.parametrize(
    ("sig", "exc"), [(signal.SIGTERM, Terminated), (signal.SIGINT, KeyboardInterrupt)]
)
def test_a_signal_inside_a_held_call_is_raised_when_it_ends(
    cli_handlers: None, sig: signal.Signals, exc: type[BaseException]
) -> None:
    reached = []
    with pytest.raises(exc):
        with interrupts.held():
            signal.raise_signal(sig)
            reached.append("after the signal")  # the call runs to its end
            with interrupts.held():  # re-entrant: the outermost end raises
                signal.raise_signal(sig)  # a second one while one waits: raised once
            reached.append("after the inner block")
    assert reached == ["after the signal", "after the inner block"]
    with pytest.raises(exc):  # and outside a held call it unwinds at once, as before
        signal.raise_signal(sig)


def test_sigterm_during_inference_lets_the_call_finish(
    cli_handlers: None, model_path: Path
) -> None:
    """A SIGTERM landing inside MediaPipe's layer (here: as the call starts) is raised after
    it, so no half-built MediaPipe object is left to print a traceback on the way out."""
    pose = MediaPipePose(model_path, mode="image")
    real = pose._landmarker
    finished = []

    class SignalledLandmarker:
        def detect(self, image: Any) -> Any:
            signal.raise_signal(signal.SIGTERM)
            result = real.detect(image)
            finished.append(result)
            return result

    pose._landmarker = SignalledLandmarker()
    try:
        with pytest.raises(Terminated):
            pose.detect(np.zeros((48, 64, 3), np.uint8))
        assert len(finished) == 1
        pose._landmarker = real  # and the backend still works afterwards
        assert not pose.detect(np.zeros((48, 64, 3), np.uint8)).person
    finally:
        pose._landmarker = real
        pose.close()
