"""The pose backend: MediaPipe PoseLandmarker in, `PoseFrame` (plain numpy arrays) out.

Colour order: frames are numpy arrays in OpenCV's BGR order by default (what cv2 decodes and
cameras give); pass `color="rgb"` for RGB arrays (scikit-image, PIL). Grayscale (H, W) or (H, W, 1)
and BGRA/RGBA (H, W, 4) arrays are accepted too; uint8 only.

Modes: IMAGE for independent photos, VIDEO for streams (tracking between frames: about half the
cost per frame). VIDEO mode demands strictly increasing integer-millisecond timestamps; sources
that repeat or go back in time (looping files, clock steps) would crash it, so the adapter keeps its
own strictly increasing clock and maps each frame's time onto it.

The model: the landmark network's segmentation head, about a quarter of its CPU, is dropped in
memory before MediaPipe loads the bundle (`posture.adapters.model_pruning`; the landmarks are
bit-identical). `lean=False` loads the file exactly as it is.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from posture import interrupts
from posture.adapters import mediapipe_modules, model_pruning, native_logs
from posture.adapters.opencv import opencv
from posture.core.errors import FrameError, ModelError
from posture.core.landmarks import N_LANDMARKS, PoseFrame
from posture.core.quality import check_frame

log = logging.getLogger(__name__)

Mode = Literal["image", "video"]
ColorOrder = Literal["bgr", "rgb"]


class PoseBackend(Protocol):
    """Anything that turns an image into a PoseFrame. Tests may supply scripted backends."""

    def detect(self, image: np.ndarray, t_s: float = 0.0, color: ColorOrder = "bgr") -> PoseFrame:
        """Landmarks of the most prominent person, or an empty PoseFrame."""
        ...

    def close(self) -> None:
        """Release the native graph."""
        ...


def to_rgb(image: np.ndarray, color: ColorOrder = "bgr") -> np.ndarray:
    """Validate a frame and return a C-contiguous RGB uint8 (H, W, 3) array.

    Raises FrameError for empty, tiny, huge, non-uint8 or oddly shaped arrays, naming the shape.
    """
    check_frame(image)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    cv2 = opencv()
    if image.ndim == 2:
        code = cv2.COLOR_GRAY2RGB
    elif image.shape[2] == 4:
        code = cv2.COLOR_BGRA2RGB if color == "bgr" else cv2.COLOR_RGBA2RGB
    elif color == "bgr":
        code = cv2.COLOR_BGR2RGB
    elif color == "rgb":
        return np.ascontiguousarray(image)
    else:
        raise FrameError(f"unknown colour order {color!r}; use 'bgr' or 'rgb'")
    rgb: np.ndarray = cv2.cvtColor(image, code)
    return rgb


class MediaPipePose:
    """PoseLandmarker wrapper; one instance per stream (VIDEO) or per batch of photos (IMAGE).

    Loading is silent unless `--verbose`; the first inference is run inside the silenced block
    too, because MediaPipe prints its one-time warnings then.
    """

    def __init__(
        self,
        model_path: Path | str,
        mode: Mode = "video",
        *,
        min_detection_confidence: float = 0.5,
        min_presence_confidence: float = 0.5,
        min_tracking_confidence: float = 0.5,
        lean: bool = True,
    ) -> None:
        if mode not in ("image", "video"):
            raise ValueError(f"mode must be 'image' or 'video', got {mode!r}")
        path = Path(model_path)
        if not path.is_file():
            raise ModelError(f"model file {path} does not exist; run `posture models fetch`")
        self.mode: Mode = mode
        self.model_path = path
        self._last_ms = -1
        self._t0_s: float | None = None
        self._first_person_pending = True
        self._tracking = False
        self.retries = 0
        """How often a lost track was re-detected on the same frame (VIDEO mode)."""
        self.pruned_ops: tuple[int, int] | None = None
        """(operators kept, operators in the landmark network) when the segmentation head is
        dropped; None when MediaPipe runs the file as it is."""
        self.unpruned_reason = "" if lean else "lean=False"
        """Why MediaPipe runs the file as it is, segmentation head and all ("" when pruned)."""
        with native_logs.silenced():
            # only the modules the pose task needs, not `import mediapipe`'s whole tree
            self._api = api = mediapipe_modules.pose_api()
            running = api.RunningMode

            def create(base_options: Any) -> Any:
                options = api.PoseLandmarkerOptions(
                    base_options=base_options,
                    running_mode=running.VIDEO if mode == "video" else running.IMAGE,
                    num_poses=1,
                    min_pose_detection_confidence=min_detection_confidence,
                    min_pose_presence_confidence=min_presence_confidence,
                    min_tracking_confidence=min_tracking_confidence,
                )
                return api.PoseLandmarker.create_from_options(options)

            self._landmarker: Any = None
            if lean:
                self._load_lean(create)
            if self._landmarker is None:
                try:
                    self._landmarker = create(api.BaseOptions(model_asset_path=str(path)))
                    self._warm_up()
                except (RuntimeError, ValueError, OSError) as exc:
                    self.close()
                    raise ModelError(
                        f"MediaPipe could not load the pose model {path}: {exc}"
                    ) from exc
        self._t0_s = None  # keep _last_ms: the graph has seen the warm-up timestamp

    def _warm_up(self) -> None:
        self._run(np.zeros((64, 64, 3), dtype=np.uint8), 0.0)

    def _load_lean(self, create: Callable[[Any], Any]) -> None:
        """Load and warm up the bundle without its segmentation head; leave no landmarker if not.

        Never worse than the file itself, only dearer: whatever stands in the way is logged,
        and the caller loads the file as it is.
        """
        path = self.model_path
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelError(f"cannot read model file {path}: {exc}") from exc
        try:
            pruned = model_pruning.without_segmentation(data)
        except model_pruning.NotPrunable as exc:
            # a model of another layout (not one posture ships): it runs, at full cost
            self.unpruned_reason = str(exc)[:300]
            log.info("running %s with its segmentation head: %s", path, self.unpruned_reason)
            return
        finally:
            del data
        try:
            self._landmarker = create(self._api.BaseOptions(model_asset_buffer=pruned.data))
            self._warm_up()
            self.pruned_ops = (pruned.ops_after, pruned.ops_before)
            log.debug("%s: %d of %d operators kept", path, *self.pruned_ops)
        except (RuntimeError, ValueError) as exc:
            # a layout we recognise that MediaPipe refuses once pruned: worth a report
            self.close()
            detail = " ".join(str(exc).split())[:300] or type(exc).__name__  # one line
            self.unpruned_reason = f"the pruned copy did not load: {detail}"
            log.warning(
                "running %s with its segmentation head (about a third more CPU per frame; "
                "please report this): %s",
                path,
                self.unpruned_reason,
            )
        finally:
            del pruned  # MediaPipe holds its own copy
            _return_freed_heap()

    def __enter__(self) -> MediaPipePose:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release the native graph; safe to call twice."""
        landmarker = getattr(self, "_landmarker", None)
        if landmarker is not None:
            with native_logs.silenced():
                landmarker.close()
            self._landmarker = None

    def _next_ms(self, t_s: float) -> int:
        """Strictly increasing milliseconds for VIDEO mode, whatever the source's clock does."""
        if self._t0_s is None:
            self._t0_s = t_s
        ms = int(round((t_s - self._t0_s) * 1000.0))
        if ms <= self._last_ms:
            ms = self._last_ms + 1
        self._last_ms = ms
        return ms

    def _run(self, rgb: np.ndarray, t_s: float) -> Any:
        # a Ctrl-C / SIGTERM waits for the call to end: cut short inside MediaPipe's Python
        # layer it leaves half-built objects that print tracebacks on the way out
        with interrupts.held():
            image = self._api.Image(image_format=self._api.ImageFormat.SRGB, data=rgb)
            if self.mode == "video":
                return self._landmarker.detect_for_video(image, self._next_ms(t_s))
            return self._landmarker.detect(image)

    def detect(self, image: np.ndarray, t_s: float = 0.0, color: ColorOrder = "bgr") -> PoseFrame:
        """Landmarks of the most prominent person in `image`, or an empty PoseFrame."""
        if self._landmarker is None:
            raise ModelError("pose backend is closed")
        rgb = to_rgb(image, color)
        h, w = rgb.shape[:2]
        if self._first_person_pending:
            # MediaPipe prints one-time warnings the first time it computes landmarks.
            with native_logs.silenced():
                result = self._run(rgb, t_s)
            self._first_person_pending = not result.pose_landmarks
        else:
            result = self._run(rgb, t_s)
        if not result.pose_landmarks and self.mode == "video" and self._tracking:
            # The tracker lost the person (they moved between two looks far apart): VIDEO mode
            # then reports nobody for this frame and detects afresh on the next one. Detect
            # afresh on this frame instead, 1 ms later, so a slow look rate never sees a person
            # vanish every other look. Costs one extra inference, only when tracking is lost.
            self.retries += 1
            result = self._run(rgb, t_s)
        self._tracking = bool(result.pose_landmarks)
        if not result.pose_landmarks:
            return PoseFrame.empty(t_s, (w, h))
        return _to_frame(result, t_s, (w, h))


def _return_freed_heap() -> None:
    """Hand the heap freed by the pruning's copies of the bundle back to the system (glibc).

    Without this, glibc keeps the freed megabytes for reuse: measured 237 MB resident after
    20 frames against 219 with it (the stock model: 213). Best effort: a no-op off glibc.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    try:
        trim = ctypes.CDLL(None).malloc_trim  # the C library the interpreter runs on
    except (OSError, AttributeError, TypeError):  # not glibc (musl): only megabytes lost
        return
    trim(0)


def _to_frame(result: Any, t_s: float, size: tuple[int, int]) -> PoseFrame:
    """Copy MediaPipe's landmark objects into arrays.

    One list of tuples per set, converted by numpy in one call (a missing score, None, becomes
    NaN there): about a quarter of the cost of filling rows one by one.
    """
    pts = result.pose_landmarks[0]
    arr = np.array(
        [(p.x, p.y, p.z, p.visibility, p.presence) for p in pts[:N_LANDMARKS]], dtype=float
    )
    world = result.pose_world_landmarks[0]
    warr = np.array([(q.x, q.y, q.z) for q in world[:N_LANDMARKS]], dtype=float)
    if arr.shape != (N_LANDMARKS, 5) or warr.shape != (N_LANDMARKS, 3):
        raise ModelError(
            f"the pose model returned {arr.shape[0]} landmarks, expected {N_LANDMARKS}: "
            "is the model file a PoseLandmarker bundle?"
        )
    return PoseFrame(
        t_s=t_s,
        image_size=size,
        image_xyz=arr[:, :3],
        visibility=arr[:, 3],
        presence=arr[:, 4],
        world_xyz=warr,
    )
