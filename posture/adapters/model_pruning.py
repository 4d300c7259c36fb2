"""Drop the segmentation head of the pose landmark network before MediaPipe loads it.

Theory of operation
-------------------
The landmark network inside a PoseLandmarker bundle (`pose_landmarks_detector.tflite`) has five
outputs, which MediaPipe's graph splits by position: landmarks, pose flag, segmentation mask,
heatmap and world landmarks. TFLite runs every operator of the graph on every frame, so the
segmentation decoder runs even when no mask is asked for; it works at the full 256 x 256 input
size, and on the full model it is about 30 % of the network's CPU (measured: 21.8 -> 15.3 ms per
VIDEO-mode frame on this project's 2-core machine) for an output posture never reads.

`without_segmentation()` keeps exactly the operators that feed the other four outputs, in their
original order, so the landmarks are the same operators on the same tensors: bit-identical
(tests/test_model_pruning.py checks this on real photos). MediaPipe still expects five outputs,
so the segmentation slot is given a one-value tensor that the kept operators compute anyway; only
a caller asking MediaPipe for segmentation masks would notice, and posture never does.

The file on disk is not touched, so its checksum still verifies against the manifest; the pruned
bundle exists only in memory. A model this module does not recognise (another output layout, more
than one subgraph) raises `NotPrunable`, and the caller loads the file as it is.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

LANDMARK_MEMBER = "pose_landmarks_detector.tflite"
OUTPUTS = ("landmarks", "pose flag", "segmentation", "heatmap", "world landmarks")
"""The landmark network's outputs in the order MediaPipe's pose graph splits them."""
SEGMENTATION_SLOT = OUTPUTS.index("segmentation")


class NotPrunable(ValueError):
    """The bundle or network is not one this module knows how to prune; load it unchanged."""


@dataclass(frozen=True)
class PrunedBundle:
    """A `.task` bundle whose landmark network no longer computes the segmentation mask."""

    data: bytes
    ops_before: int
    ops_after: int

    @property
    def ops_dropped(self) -> int:
        """Operators that only fed the segmentation mask."""
        return self.ops_before - self.ops_after


def without_segmentation(bundle: bytes) -> PrunedBundle:
    """Return `bundle` (a `.task` zip) with its landmark network's segmentation head dropped.

    Every other member is copied byte for byte. Raises NotPrunable, saying why, for anything
    that is not a PoseLandmarker bundle with the five-output landmark network.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
            members = [(info, zf.read(info)) for info in zf.infolist()]
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise NotPrunable(f"not a readable .task bundle: {exc}") from exc
    names = [info.filename for info, _ in members]
    if LANDMARK_MEMBER not in names:
        raise NotPrunable(f"the bundle has no {LANDMARK_MEMBER}")
    out = io.BytesIO()
    before = after = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for info, data in members:
            if info.filename == LANDMARK_MEMBER:
                data, before, after = prune_landmark_network(data)
            # MediaPipe reads the members in place: they must stay stored, never deflated
            info.compress_type = zipfile.ZIP_STORED
            zf.writestr(info, data)
    return PrunedBundle(out.getvalue(), before, after)


def prune_landmark_network(model: bytes) -> tuple[bytes, int, int]:
    """Return (model without its segmentation head, operators before, operators after)."""
    import flatbuffers

    from posture.adapters import mediapipe_modules

    tfl = mediapipe_modules.load("mediapipe.tasks.metadata.schema_py_generated")
    try:
        root = tfl.Model.GetRootAsModel(model, 0)
        m = tfl.ModelT.InitFromObj(root)
    except Exception as exc:  # noqa: BLE001 - flatbuffers raises anything on a malformed buffer
        raise NotPrunable(f"not a TFLite model: {type(exc).__name__}: {exc}") from exc
    subgraphs = m.subgraphs or []
    if len(subgraphs) != 1:
        raise NotPrunable(f"expected one subgraph, found {len(subgraphs)}")
    graph = subgraphs[0]
    operators = list(graph.operators or [])
    outputs = [int(i) for i in graph.outputs]
    _check_layout(graph, outputs)
    segmentation = outputs[SEGMENTATION_SLOT]
    keep = _feeding(operators, [t for t in outputs if t != segmentation])
    if len(keep) == len(operators):
        raise NotPrunable("no operator feeds the segmentation mask alone")
    stand_in = _stand_in(graph, operators, keep, set(outputs))
    graph.operators = [op for k, op in enumerate(operators) if k in keep]
    graph.outputs = [stand_in if t == segmentation else t for t in outputs]
    builder = flatbuffers.Builder(len(model) + 4096)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output()), len(operators), len(keep)


def _shape(graph: Any, tensor: int) -> tuple[int, ...]:
    shape = graph.tensors[tensor].shape
    return () if shape is None else tuple(int(d) for d in shape)


def _check_layout(graph: Any, outputs: list[int]) -> None:
    """Require five outputs, with a one-channel mask the size of the input in the mask slot."""
    if len(outputs) != len(OUTPUTS):
        raise NotPrunable(
            f"expected {len(OUTPUTS)} outputs ({', '.join(OUTPUTS)}), found {len(outputs)}"
        )
    inputs = [int(i) for i in graph.inputs]
    image = _shape(graph, inputs[0]) if len(inputs) == 1 else ()
    mask = _shape(graph, outputs[SEGMENTATION_SLOT])
    if len(image) != 4 or mask != (1, image[1], image[2], 1):
        raise NotPrunable(
            f"output {SEGMENTATION_SLOT} has shape {mask}, not a one-channel mask the size of "
            f"the input {image}"
        )


def _feeding(operators: list[Any], tensors: list[int]) -> set[int]:
    """Return the indices of the operators that the given tensors depend on."""
    producer = {int(t): k for k, op in enumerate(operators) for t in op.outputs}
    needed: set[int] = set()
    stack = list(tensors)
    while stack:
        k = producer.get(stack.pop())
        if k is not None and k not in needed:
            needed.add(k)
            stack.extend(int(t) for t in operators[k].inputs if t >= 0)
    return needed


def _stand_in(graph: Any, operators: list[Any], keep: set[int], outputs: set[int]) -> int:
    """Pick the smallest tensor a kept operator computes that is not already an output.

    Not another output listed twice: tried on the full model, that ran slower than the unpruned
    network (31.8 against 21.8 ms per frame) and moved the landmarks.
    """
    candidates = [
        (_size(_shape(graph, int(t))), int(t))
        for k in sorted(keep)
        for t in operators[k].outputs
        if int(t) not in outputs
    ]
    if not candidates:
        raise NotPrunable("no intermediate tensor to stand in for the segmentation mask")
    return min(candidates)[1]


def _size(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= max(d, 1)
    return n
