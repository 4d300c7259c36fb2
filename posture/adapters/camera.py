"""Frame sources: live camera (latest-frame reader), video file, image folder, stream URL.

Threading contract: `read()` is called from one thread (the monitor loop). A live camera runs a
background thread that only *grabs* frames so the driver's buffer never fills and the newest frame
is always the one decoded; `read()` decodes that newest frame under a lock. A slow analysis
therefore skips frames instead of lagging behind real time. For a local camera (V4L2 and the
like) a grab only dequeues a buffer; for stream URLs FFmpeg decodes on grab.

Files play at their own timestamps; `read(not_before_s=...)` grabs until the requested time and
retrieves (colour-converts) only the frame it returns. OpenCV's FFmpeg backend still decodes every
grabbed frame (inter-coded video needs it), so a skipped frame costs about 60 % of a returned
one; seeking instead was measured slower for the gaps the adaptive rate makes (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from posture.adapters.opencv import opencv
from posture.clock import Clock, SystemClock
from posture.core.errors import CameraUnavailable, SourceError
from posture.core.messages import plural

log = logging.getLogger(__name__)

SEEK_MIN_GAP_FRAMES = 45
"""Gaps longer than this are crossed by seeking (cheaper than decoding every frame between)."""
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded BGR frame and its time in seconds (file time for files, monotonic for live)."""

    t_s: float
    image: np.ndarray
    index: int
    path: str | None = None


class FrameSource(Protocol):
    """Anything that yields frames.

    `read()` returns None at the end of a finite source and raises CameraUnavailable when a live
    device stops delivering (the caller may `reopen()`).
    """

    live: bool
    description: str

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Return the next frame to analyse, at or after `not_before_s` when given."""
        ...

    @property
    def read_to_s(self) -> float:
        """Stream time this source has been watched up to: where a stored session ends.

        For a file, the end of the last frame passed (analysed or skipped), so a run that looks
        every 2 s still ends where the file does; for a live source, now on its frames' clock.
        """
        ...

    def reopen(self) -> None:
        """Try to open the device again; raises CameraUnavailable if it is still gone."""
        ...

    def close(self) -> None:
        """Release the device or file; safe to call twice."""
        ...


DECODE_THREADS = 1
"""FFmpeg decoder threads for video files. One thread decodes a 640 x 480 MPEG-4 frame with 13-16 %
less CPU than FFmpeg's default frame threading, one thread per core (0.86 against 0.99 ms,
docs/PERFORMANCE.md)."""


def _open_video_file(path: Path) -> Any:
    """Open `path` asking for `DECODE_THREADS`; without that request if no backend takes it.

    `CAP_ANY` rather than naming FFmpeg: OpenCV warns on stderr when a backend asked for by name
    cannot open a file, and unreadable files must fail with our message alone.
    """
    cv2 = opencv()
    cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])
    if cap.isOpened():
        return cap
    cap.release()
    return cv2.VideoCapture(str(path))  # a backend that refuses the parameter, or none


class VideoFileSource:
    """A video file, decoded frame by frame at its own timestamps."""

    live = False

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.description = f"video {self.path}"
        if not self.path.is_file():
            raise SourceError(f"video file {self.path} does not exist")
        cv2 = opencv()
        self._cap = _open_video_file(self.path)
        if not self._cap.isOpened():
            self._cap.release()
            raise SourceError(
                f"cannot open {self.path} as a video: the file is not a video OpenCV can decode, "
                "or it is corrupt"
            )
        fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.5 <= fps <= 1000 else 30.0
        count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.frame_count: int | None = count if count > 0 else None
        self._index = -1
        self.decode_errors = 0

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Grab until `not_before_s`, then decode one frame; None at the end or where it breaks.

        OpenCV's grab() still decodes, so a long gap (the 0.5 fps idle rate skips 59 frames of
        a 30 fps file) is crossed by seeking instead, which decodes from the nearest keyframe.
        """
        if not_before_s is not None and self.frame_count:
            target = math.ceil(not_before_s * self.fps - 1e-6)
            if SEEK_MIN_GAP_FRAMES < target - self._index < self.frame_count - self._index:
                self._seek(target)
        while True:
            if not self._cap.grab():
                return None
            self._index += 1
            t_s = self._index / self.fps
            if not_before_s is None or t_s >= not_before_s - 1e-6:
                break
        ok, image = self._cap.retrieve()
        if not ok or image is None or image.size == 0:
            self.decode_errors += 1
            log.warning("%s: frame %d could not be decoded; stopping here", self.path, self._index)
            return None
        return Frame(t_s=t_s, image=image, index=self._index)

    @property
    def frames_read(self) -> int:
        """Frames passed so far (analysed or skipped): the file's position, for progress."""
        return self._index + 1

    @property
    def read_to_s(self) -> float:
        """The end of the last frame passed (see `FrameSource.read_to_s`)."""
        return self.frames_read / self.fps

    def _seek(self, target: int) -> None:
        """Position before frame `target`; on a file that cannot seek, keep grabbing instead."""
        cv2 = opencv()
        if self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(target)):
            pos = int(self._cap.get(cv2.CAP_PROP_POS_FRAMES))
            if pos == target:
                self._index = target - 1
                return
            log.debug("%s: seek to frame %d landed on %d; grabbing instead", self.path, target, pos)
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, float(self._index + 1))

    def reopen(self) -> None:
        """Files do not come back; nothing to do."""

    def close(self) -> None:
        """Release the decoder."""
        self._cap.release()


class ImageFolderSource:
    """Image files in sorted order, spaced `interval_s` apart in time (photos have no clock)."""

    live = False

    def __init__(self, paths: list[Path], interval_s: float = 1.0, description: str = "") -> None:
        if not paths:
            raise SourceError(f"no images found in {description or 'the given paths'}")
        self.paths = paths
        self.interval_s = interval_s
        self.description = description or plural(len(paths), "image")
        self._i = 0
        self.unreadable: list[tuple[Path, str]] = []

    @classmethod
    def from_folder(cls, folder: Path, interval_s: float = 1.0) -> ImageFolderSource:
        """Every image file directly inside `folder`, sorted by name."""
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise SourceError(f"folder {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return cls(paths, interval_s, f"images in {folder}")

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Return the next readable image; unreadable files are logged and skipped."""
        while self._i < len(self.paths):
            i = self._i
            self._i += 1
            t_s = i * self.interval_s
            if not_before_s is not None and t_s < not_before_s - 1e-6:
                continue
            path = self.paths[i]
            try:
                image = read_image(path)
            except SourceError as exc:
                self.unreadable.append((path, str(exc)))
                log.warning("%s", exc)
                continue
            return Frame(t_s=t_s, image=image, index=i, path=str(path))
        return None

    @property
    def read_to_s(self) -> float:
        """The end of the last image passed: each stands for `interval_s`."""
        return self._i * self.interval_s

    def reopen(self) -> None:
        """Folders do not come back; nothing to do."""

    def close(self) -> None:
        """Nothing held open."""


def read_image(path: Path) -> np.ndarray:
    """Decode one image file to BGR; SourceError names the file and what is wrong."""
    if not path.exists():
        raise SourceError(f"{path} does not exist")
    if not path.is_file():
        raise SourceError(f"{path} is not a file")
    cv2 = opencv()
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise SourceError(f"{path} is empty (0 bytes)")
    image: np.ndarray | None = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise SourceError(f"{path} is not an image OpenCV can decode (wrong extension or corrupt)")
    return image


class CameraSource:
    """A live camera or stream URL with a background grabber that keeps only the newest frame.

    `fps` asks the camera for fewer frames per second (e.g. 10 when analysing at most 2.5 fps): the
    grabber then wakes and the driver copies buffers a third as often as at 30 fps. Grabbing
    does not decode, so the saving is modest; it is a request the driver may round or ignore.
    """

    live = True

    def __init__(
        self,
        device: int | str,
        *,
        width: int = 640,
        height: int = 480,
        fps: float | None = None,
        stale_after_s: float = 3.0,
        clock: Clock | None = None,
    ) -> None:
        self.device = device
        self.width = width
        self.height = height
        self.fps = fps
        self.stale_after_s = stale_after_s
        self._clock: Clock = clock or SystemClock()
        self.description = f"camera {device}" if isinstance(device, int) else f"stream {device}"
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._cap = None
        self._grab_t: float | None = None
        self._grab_seq = 0
        self._read_seq = -1
        self._failed = False
        self._index = 0
        self._open()

    def _open(self) -> None:
        cv2 = opencv()
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise CameraUnavailable(self._unavailable_message())
        if isinstance(self.device, int):
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if self.fps is not None:
                # a request: drivers pick the nearest mode they have, or ignore it
                cap.set(cv2.CAP_PROP_FPS, float(self.fps))
        self._cap = cap
        self._failed = False
        self._stop.clear()
        self._thread = threading.Thread(target=self._grab_loop, name="posture-camera", daemon=True)
        self._thread.start()

    def _unavailable_message(self) -> str:
        if isinstance(self.device, int):
            return (
                f"cannot open camera {self.device}: it may not exist (try another index with "
                "--source 1), be in use by another program (a video call), or this user may lack "
                "permission (Linux: be in the 'video' group; macOS: allow camera access for the "
                "terminal in System Settings > Privacy)"
            )
        return f"cannot open stream {self.device}: check the URL and that the stream is running"

    def _grab_loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            with self._lock:
                cap = self._cap
                ok = bool(cap is not None and cap.grab())
                if ok:
                    self._grab_t = self._clock.monotonic()
                    self._grab_seq += 1
            if ok:
                failures = 0
                time.sleep(0.001)  # let read() take the lock between grabs
                continue
            failures += 1
            if failures >= 10:
                self._failed = True
                return
            time.sleep(0.05)

    def read(self, not_before_s: float | None = None) -> Frame | None:
        """Decode the newest grabbed frame; CameraUnavailable when the device stopped delivering."""
        deadline = self._clock.monotonic() + self.stale_after_s
        while True:
            if self._failed:
                raise CameraUnavailable(f"{self.description} stopped delivering frames")
            with self._lock:
                fresh = self._grab_seq != self._read_seq and self._grab_t is not None
                if fresh and (not_before_s is None or self._grab_t >= not_before_s):  # type: ignore[operator]
                    assert self._cap is not None  # noqa: S101 - invariant: set while fresh
                    ok, image = self._cap.retrieve()
                    self._read_seq = self._grab_seq
                    t_s = float(self._grab_t)
                    if ok and image is not None:
                        self._index += 1
                        return Frame(t_s=t_s, image=image, index=self._index)
            if self._clock.monotonic() > deadline:
                raise CameraUnavailable(
                    f"{self.description} delivered no frame for {self.stale_after_s:.0f} s"
                )
            time.sleep(0.005)

    @property
    def read_to_s(self) -> float:
        """Now: a camera is watched until it is released."""
        return float(self._clock.monotonic())

    def reopen(self) -> None:
        """Release and open the device again."""
        self.close()
        self._open()

    def close(self) -> None:
        """Stop the grabber and release the device; safe to call twice."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        self._thread = None
        with self._lock:
            if self._cap is not None:
                self._cap.release()
                self._cap = None
            self._grab_t = None


def is_live_spec(spec: str) -> bool:
    """Return a camera index or a URL: live sources whose frames come in real time."""
    text = str(spec).strip()
    return bool(re.fullmatch(r"\d{1,3}", text) or re.match(r"^[a-z][a-z0-9+.-]*://", text, re.I))


def open_source(
    spec: str | Path, *, interval_s: float = 1.0, camera_fps: float | None = None
) -> FrameSource:
    """Open `--source`: a camera index (`0`), a video file, an image file or folder, or a URL.

    `camera_fps` is passed to a local camera as its requested capture rate (None: its default).
    """
    text = str(spec).strip()
    if re.fullmatch(r"\d{1,3}", text):
        return CameraSource(int(text), fps=camera_fps)
    if re.match(r"^[a-z][a-z0-9+.-]*://", text, re.IGNORECASE):
        return CameraSource(text)
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(
            f"source {text!r} is neither a camera index (0, 1, ...), an existing file or folder, "
            "nor a URL (rtsp://, http://)"
        )
    if path.is_dir():
        return ImageFolderSource.from_folder(path, interval_s)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource([path], interval_s, str(path))
    return VideoFileSource(path)


def iter_frames(source: FrameSource) -> Iterator[Frame]:
    """Every frame of a finite source, in order."""
    while (frame := source.read()) is not None:
        yield frame
