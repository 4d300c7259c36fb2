"""Test and benchmark helpers: fakes for the shell's ports and generated clips from real photos."""

from __future__ import annotations

import dataclasses
import hashlib
import math
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from posture.adapters.camera import Frame
from posture.adapters.notify import DeliveryResult
from posture.clock import Clock, SystemClock
from posture.core.errors import CameraUnavailable, SourceError
from posture.core.landmarks import PoseFrame


def place_photo(
    photo_bgr: np.ndarray,
    size: tuple[int, int] = (640, 480),
    *,
    scale: float = 1.0,
    dx: float = 0.0,
    dy: float = 0.0,
) -> np.ndarray:
    """Place a photo in a `size` frame as every generated clip does.

    Centred at 90 % of the fitting scale, times `scale`, shifted by (dx, dy) pixels, on dark grey.
    """
    import cv2

    w, h = size
    ph, pw = photo_bgr.shape[:2]
    s = min(w / pw, h / ph) * 0.9 * scale
    m = np.array([[s, 0, (w - pw * s) / 2 + dx], [0, s, (h - ph * s) / 2 + dy]])
    return cv2.warpAffine(photo_bgr, m, (w, h), borderValue=(40, 40, 40))


def moving_photo_clip(
    photo_bgr: np.ndarray, n: int, *, size: tuple[int, int] = (640, 480), seed: int = 0
) -> list[np.ndarray]:
    """Return `n` frames of a real photo, moved and scaled a little per frame (a sitter moving)."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        scale = 1.0 + 0.05 * np.sin(i / 9.0) + rng.normal(0, 0.003)
        dx = 12 * np.sin(i / 7.0) + rng.normal(0, 0.5)
        dy = 8 * np.cos(i / 11.0) + rng.normal(0, 0.5)
        out.append(place_photo(photo_bgr, size, scale=scale, dx=dx, dy=dy))
    return out


class RecordingNotifier:
    """A `Notifier` that records every notification instead of showing it.

    `fail_with` set to a reason makes it fail (like a backend without a server), so chains and the
    monitor's error handling can be tested without a desktop.
    """

    def __init__(self, name: str = "recording", *, fail_with: str = "") -> None:
        self.name = name
        self.fail_with = fail_with
        self.sent: list[tuple[str, str, str]] = []
        """(title, body, urgency) of every call, delivered or not."""

    def notify(self, title: str, body: str, *, urgency: str = "normal") -> DeliveryResult:
        """Record the call; deliver unless `fail_with` is set."""
        self.sent.append((title, body, urgency))
        if self.fail_with:
            return DeliveryResult(False, self.name, self.fail_with)
        return DeliveryResult(True, self.name)


class FakeClock:
    """A `posture.clock.Clock` driven by the test: time moves only when told, never backwards.

    `sleep` advances the clock instead of waiting, so loops run at full speed. Wall time is the
    start UTC time plus the monotonic seconds elapsed.
    """

    def __init__(self, start_s: float = 0.0, *, start_utc: datetime | None = None) -> None:
        if not math.isfinite(start_s):
            raise ValueError(f"FakeClock start_s must be finite, got {start_s!r}")
        self._t = float(start_s)
        self._t0 = self._t
        self._utc0 = start_utc or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        if self._utc0.tzinfo is None:
            raise ValueError("FakeClock start_utc must be timezone-aware (UTC)")
        self.sleeps: list[float] = []
        """Every `sleep` call's duration, for tests of pacing."""

    def monotonic(self) -> float:
        """Return the current fake time in seconds."""
        return self._t

    def now_utc(self) -> datetime:
        """Return the start UTC time plus the fake seconds elapsed."""
        return self._utc0 + timedelta(seconds=self._t - self._t0)

    def sleep(self, seconds: float) -> None:
        """Advance by `seconds` (non-positive values do nothing, like the system clock)."""
        self.sleeps.append(seconds)
        if seconds > 0:
            self.advance(seconds)

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (>= 0) and return the new time."""
        if not math.isfinite(seconds) or seconds < 0:
            raise ValueError(f"FakeClock cannot go backwards or jump by {seconds!r} s")
        self._t += seconds
        return self._t

    def set(self, t_s: float) -> float:
        """Jump to `t_s`, which must not be earlier than now."""
        if not math.isfinite(t_s) or t_s < self._t:
            raise ValueError(f"FakeClock cannot go back from {self._t} to {t_s!r}")
        self._t = float(t_s)
        return self._t


# -- scripted sources, a caching pose backend and a fake lock probe (monitor tests) -------------

Window = tuple[float, float]
"""[start_s, end_s) on the test clock."""


def _within(t_s: float, windows: Sequence[Window]) -> bool:
    return any(a <= t_s < b for a, b in windows)


class ScriptedCamera:
    """A scripted device, opened through `open()` (the monitor's `source_factory`), clock-driven.

    `image_at(t_s)` gives the picture at a time. The device is unplugged during `unplugged`
    windows: opening raises `CameraUnavailable` and an open source's `read()` raises it too. The
    first `fail_first_opens` opens fail as well (a camera busy at start). After `end_s` reads
    return None (so a test's loop ends). `live=False` plays like a file: frames at `fps` spacing.
    Every open and close is recorded, so tests can check the device was released.
    """

    def __init__(
        self,
        clock: Any,
        image_at: Callable[[float], np.ndarray],
        *,
        live: bool = True,
        fps: float = 5.0,
        unplugged: Sequence[Window] = (),
        fail_first_opens: int = 0,
        end_s: float | None = None,
    ) -> None:
        self.clock = clock
        self.image_at = image_at
        self.live = live
        self.fps = fps
        self.unplugged = tuple(unplugged)
        self.fail_first_opens = fail_first_opens
        self.end_s = end_s
        self.open_attempts: list[float] = []
        """Clock time of every open attempt, failed or not."""
        self.opened: list[float] = []
        """Clock time of every successful open."""
        self.closed: list[float] = []
        """Clock time of every close of an open source."""
        self.reads: list[float] = []
        """Clock time of every read that returned a frame."""

    @property
    def open_count(self) -> int:
        """Sources currently open (0 means the device is released)."""
        return len(self.opened) - len(self.closed)

    def open(self) -> ScriptedSource:
        """Open the device (`source_factory`); raises CameraUnavailable while unplugged or busy."""
        t = self.clock.monotonic()
        self.open_attempts.append(t)
        if len(self.open_attempts) <= self.fail_first_opens:
            raise CameraUnavailable("scripted camera is busy (another program holds it)")
        if _within(t, self.unplugged):
            raise CameraUnavailable("scripted camera is unplugged")
        self.opened.append(t)
        return ScriptedSource(self)


class ScriptedSource:
    """One open handle on a `ScriptedCamera` (a `posture.adapters.camera.FrameSource`)."""

    def __init__(self, camera: ScriptedCamera) -> None:
        self.camera = camera
        self.live = camera.live
        self.description = "scripted camera" if camera.live else "scripted clip"
        self._open = True
        self._index = -1

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Return the picture now (live) or the next frame at/after `not_before_s` (file-like)."""
        cam = self.camera
        if not self._open:
            raise SourceError("read() on a closed scripted source")
        if cam.live:
            t = cam.clock.monotonic()
        else:
            self._index += 1
            t = self._index / cam.fps
            if not_before_s is not None and t < not_before_s - 1e-6:
                self._index = math.ceil((not_before_s - 1e-6) * cam.fps)
                t = self._index / cam.fps
        if cam.end_s is not None and t >= cam.end_s:
            return None
        if cam.live and _within(t, cam.unplugged):
            raise CameraUnavailable("scripted camera stopped delivering frames")
        cam.reads.append(t)
        self._index += cam.live
        return Frame(t_s=t, image=cam.image_at(t), index=self._index)

    @property
    def read_to_s(self) -> float:
        """Now (live) or the end of the last frame passed (file-like), never past `end_s`."""
        cam = self.camera
        t = cam.clock.monotonic() if cam.live else (self._index + 1) / cam.fps
        return t if cam.end_s is None else min(t, cam.end_s)

    def reopen(self) -> None:
        """Close and open again on the same device."""
        self.close()
        self.camera.open()
        self._open = True

    def close(self) -> None:
        """Release; safe to call twice (only the first close is recorded)."""
        if self._open:
            self._open = False
            self.camera.closed.append(self.camera.clock.monotonic())


class CachedPose:
    """A `PoseBackend` that runs a real backend once per distinct image and replays the result.

    Scripted streams repeat a few pictures many times (with one of a few noise patterns, see
    `noisy`); caching keeps a test on the real model's landmarks without paying for inference on
    every repeat. The replayed frame carries the new time.
    """

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self._cache: dict[bytes, PoseFrame] = {}
        self.calls = 0
        """Images analysed (cache hits included): the model never runs on unusable frames."""

    def detect(self, image: np.ndarray, t_s: float = 0.0, color: str = "bgr") -> PoseFrame:
        """Return the backend's landmarks for this picture, timed `t_s`."""
        self.calls += 1
        key = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=16).digest()
        if key not in self._cache:
            self._cache[key] = self.backend.detect(image, 0.0, color)
        return dataclasses.replace(self._cache[key], t_s=t_s)

    def close(self) -> None:
        """Release nothing: the wrapped backend belongs to the caller."""


class FakeLockProbe:
    """A `posture.adapters.screenlock.LockProbe` whose screen is locked during `locked` windows."""

    def __init__(self, clock: Any, locked: Sequence[Window] = (), *, unknown: bool = False) -> None:
        self.clock = clock
        self.locked_windows = tuple(locked)
        self.unknown = unknown
        self.polls: list[float] = []
        self.description = "fake lock probe"

    def locked(self) -> bool | None:
        """Return True while the clock is inside a locked window; None when `unknown`."""
        t = self.clock.monotonic()
        self.polls.append(t)
        if self.unknown:
            return None
        return _within(t, self.locked_windows)


def noisy(image: np.ndarray, t_s: float, *, amplitude: int = 3, variants: int = 8) -> np.ndarray:
    """`image` plus a little sensor noise, so a live stream never looks frozen.

    The noise is one of `variants` patterns chosen by `t_s` (tenths of a second), so successive
    frames differ while a `CachedPose` still sees only a few distinct pictures.
    """
    rng = np.random.default_rng(int(round(t_s * 10)) % variants)
    noise = rng.integers(-amplitude, amplitude + 1, size=image.shape, dtype=np.int16)
    out: np.ndarray = np.clip(image.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    return out


def sensor_noise(image: np.ndarray, sd: float, rng: np.random.Generator) -> np.ndarray:
    """`image` plus Gaussian sensor noise of `sd` grey levels, rounded and clipped to uint8.

    Rounded, not truncated: `astype` alone would darken every pixel by half a grey level on
    average, a change the model could see. For benches and studies that need independent noise
    per frame (`noisy` above repeats a few patterns on purpose).
    """
    out: np.ndarray = np.clip(np.rint(image + rng.normal(0.0, sd, image.shape)), 0, 255).astype(
        np.uint8
    )
    return out


@dataclasses.dataclass(frozen=True)
class ReplayTrace:
    """A recorded landmark stream (`tests/data/*.npz`): what the real model saw, frame by frame.

    Replays drive everything after the model (`FrameAnalyzer.from_pose`, the judge, alerts, the
    store) with the exact landmarks of a real run, in milliseconds instead of model seconds.
    """

    t_s: np.ndarray
    """(N,) seconds from the first frame."""
    image_size: tuple[int, int]
    person: np.ndarray
    image_xyz: np.ndarray
    world_xyz: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    labels: np.ndarray
    """(N,) what the clip showed at each frame ("good", "bad", "away")."""

    def __len__(self) -> int:
        return int(self.t_s.shape[0])

    @property
    def period_s(self) -> float:
        """Length of one pass, so that loops follow each other at the recorded frame interval."""
        if len(self) < 2:
            return 1.0
        return float(self.t_s[-1] - self.t_s[0] + (self.t_s[1] - self.t_s[0]))

    def frame(self, i: int, t_s: float) -> PoseFrame:
        """Frame `i` of the trace, stamped `t_s`."""
        if not self.person[i]:
            return PoseFrame.empty(t_s, self.image_size)
        return PoseFrame(
            t_s=t_s,
            image_size=self.image_size,
            image_xyz=self.image_xyz[i],
            visibility=self.visibility[i],
            presence=self.presence[i],
            world_xyz=self.world_xyz[i],
        )

    def frames(self, n: int | None = None, *, t0_s: float = 0.0) -> Iterator[PoseFrame]:
        """`n` frames (default one pass), looping the trace with time always moving forward."""
        count = len(self) if n is None else n
        period = self.period_s
        for k in range(count):
            loop, i = divmod(k, len(self))
            yield self.frame(i, t0_s + loop * period + float(self.t_s[i] - self.t_s[0]))


def load_replay_trace(path: str | Path | None = None) -> ReplayTrace:
    """Load a trace written by `tests/data/make_replay_trace.py` (default: `replay_slouch.npz`).

    Landmarks are stored as float16 and widened to float64 here, once, so replays pay nothing
    per frame.
    """
    if path is None:
        path = Path(__file__).resolve().parents[1] / "tests" / "data" / "replay_slouch.npz"
    with np.load(path) as d:
        wh = d["image_wh"]
        return ReplayTrace(
            t_s=d["t_s"].astype(np.float64),
            image_size=(int(wh[0]), int(wh[1])),
            person=d["person"].astype(bool),
            image_xyz=d["image_xyz"].astype(np.float64),
            world_xyz=d["world_xyz"].astype(np.float64),
            visibility=d["visibility"].astype(np.float64),
            presence=d["presence"].astype(np.float64),
            labels=d["label"].astype(str),
        )


class ReplayCamera:
    """A live FrameSource standing in for an MJPEG webcam: a clip replayed in real time.

    The clip's frames are held JPEG-encoded, as an MJPEG camera delivers them; `read()` returns
    the frame the camera would show at the clock's current time and decodes only that one, as
    `CameraSource` does (its grabber only dequeues buffers). Used to measure the monitor's CPU
    where no webcam exists; a file source would also pay for decoding every frame it skips.
    """

    live = True

    def __init__(
        self,
        frames: list[np.ndarray],
        fps: float = 30.0,
        clock: Clock | None = None,
        quality: int = 85,
    ) -> None:

        import cv2

        self._jpeg = [
            cv2.imencode(".jpg", f, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()
            for f in frames
        ]
        self.fps = fps
        self._clock: Clock = clock or SystemClock()
        self._t0: float | None = None
        self._index = 0
        self.description = f"replayed camera ({len(frames)} frames at {fps:g} fps)"
        self.decoded = 0
        self.closed = False

    @classmethod
    def from_video(cls, path: str, clock: Clock | None = None) -> ReplayCamera:
        """Load a whole clip (keep it short: every frame is held in memory, compressed)."""
        import cv2

        cap = cv2.VideoCapture(str(path))
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 30.0)
        frames = []
        while True:
            ok, f = cap.read()
            if not ok:
                break
            frames.append(f)
        cap.release()
        return cls(frames, fps, clock)

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Return the current frame; None once the clip has played through."""
        import cv2

        now = float(self._clock.monotonic())
        if self._t0 is None:
            self._t0 = now
        if not_before_s is not None and now < not_before_s:
            self._clock.sleep(not_before_s - now)
            now = float(self._clock.monotonic())
        i = int((now - self._t0) * self.fps)
        if i >= len(self._jpeg):
            return None
        self.decoded += 1
        jpeg = np.frombuffer(self._jpeg[i], np.uint8)
        image: np.ndarray | None = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        if image is None:  # cannot happen: we encoded these frames ourselves
            raise SourceError(f"frame {i} of the replayed clip does not decode")
        return Frame(t_s=now, image=image, index=i)

    @property
    def read_to_s(self) -> float:
        """Now, or the clip's end once it has played through."""
        now = float(self._clock.monotonic())
        if self._t0 is None:
            return now
        return min(now, self._t0 + len(self._jpeg) / self.fps)

    def reopen(self) -> None:
        """Nothing to reopen."""

    def close(self) -> None:
        """Mark closed (the monitor closes it while snoozed)."""
        self.closed = True


def same_landmarks(a: PoseFrame, b: PoseFrame) -> bool:
    """Whether two frames hold bit-identical landmarks and scores (or both found nobody).

    For checks that a cheaper way of running the model changes nothing at all (the pruned
    landmark network against the stock one: tests and bench).
    """
    pairs = (
        (a.image_xyz, b.image_xyz),
        (a.world_xyz, b.world_xyz),
        (a.visibility, b.visibility),
        (a.presence, b.presence),
    )
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and np.array_equal(x, y, equal_nan=True))
        for x, y in pairs
    )


def sitting_side_dir() -> Path:
    """Where the labelled sitting-side photos are (tests, bench and the study use them).

    `$POSTURE_SITTING_SIDE`, else `../shared/data/sitting-side` beside the checkout, else
    `/work/shared/data/sitting-side`; the first that holds `labels.csv` (else the second).
    """
    import os

    repo = Path(__file__).resolve().parents[1]
    env = os.environ.get("POSTURE_SITTING_SIDE")
    candidates = [Path(env)] if env else []
    candidates += [
        repo.parent / "shared" / "data" / "sitting-side",
        Path("/work/shared/data/sitting-side"),
    ]
    return next((c for c in candidates if (c / "labels.csv").is_file()), candidates[-2])
