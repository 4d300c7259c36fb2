"""Drop the segmentation head of the pose landmark network before MediaPipe loads it.

Theory of operation
-------------------
The landmark network inside a PoseLandmarker bundle (`pose_landmarks_detector.tflite`) has five
outputs, which MediaPipe's graph splits by position: landmarks, pose flag, segmentation mask,
heatmap and world landmarks. TFLite runs every operator of the graph on every frame, so the
segmentation decoder runs even when no mask is asked for; it works at the full 256 x 256 input
size, and on the full model it is about a quarter of the network's CPU (measured through the
pose adapter: 19.6 -> 14.6 ms per VIDEO-mode frame; lite 14.5 -> 9.8) for an output posture
never reads.

`without_segmentation()` keeps exactly the operators that feed the other four outputs, in their
original order, so the landmarks are the same operators on the same tensors: bit-identical
(tests/test_model_pruning.py checks this on real photos). MediaPipe still expects five outputs,
so the segmentation slot is given a one-value tensor that the kept operators compute anyway; only
a caller asking MediaPipe for segmentation masks would notice, and posture never does.

The file on disk is not touched, so its checksum still verifies against the manifest; the pruned
bundle exists only in memory. Anything this module does not recognise (another output layout,
more than one subgraph, variable tensors, an operator with no outputs, a compressed or damaged
bundle, an index out of range) raises `NotPrunable` and nothing else, and the caller loads the
file as it is.
"""

from __future__ import annotations

import io
import math
import struct
import zipfile
from dataclasses import dataclass

from flatbuffers import encode, packer
from flatbuffers.table import Table

from posture.adapters.models import BUNDLE_MEMBERS

LANDMARK_MEMBER = BUNDLE_MEMBERS[1]
OUTPUTS = ("landmarks", "pose flag", "segmentation", "heatmap", "world landmarks")
"""The landmark network's outputs in the order MediaPipe's pose graph splits them."""
SEGMENTATION_SLOT = OUTPUTS.index("segmentation")

# Field slots of the TFLite flatbuffer schema (tensorflow/lite/schema/schema.fbs). A flatbuffer
# schema only ever appends fields, so these stay where they are.
_MODEL_SUBGRAPHS = 8
_SUBGRAPH_TENSORS, _SUBGRAPH_INPUTS, _SUBGRAPH_OUTPUTS, _SUBGRAPH_OPERATORS = 4, 6, 8, 10
_OPERATOR_INPUTS, _OPERATOR_OUTPUTS = 6, 8
_TENSOR_SHAPE, _TENSOR_IS_VARIABLE = 4, 14
_MAX_RANK = 8
"""Deeper tensors are not a pose network's (TFLite's own kernels stop at 6 dimensions)."""
_DAMAGED_ZIP = (
    zipfile.BadZipFile,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
    OverflowError,
    struct.error,
)
"""What zipfile raises on a damaged or unsupported archive (a negative seek is a ValueError, a
zip64 offset beyond 2**63 an OverflowError)."""
_MALFORMED = (struct.error, IndexError, ValueError, OverflowError, TypeError)
"""What reading a damaged flatbuffer raises (flatbuffers checks nothing itself)."""

Operators = list[tuple[list[int], list[int]]]
"""Each operator's (input tensors, output tensors); -1 marks an absent optional input."""


class NotPrunable(ValueError):
    """The bundle or network is not one this module knows how to prune; load it unchanged."""


@dataclass(frozen=True)
class PrunedBundle:
    """A `.task` bundle whose landmark network no longer computes the segmentation mask."""

    data: bytes
    ops_before: int
    ops_after: int


def without_segmentation(bundle: bytes) -> PrunedBundle:
    """Return `bundle` (a `.task` zip) with its landmark network's segmentation head dropped.

    Every other member is copied byte for byte. Raises NotPrunable, saying why, for anything
    that is not a PoseLandmarker bundle with the five-output landmark network.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as zf:
            infos = zf.infolist()
            for info in infos:
                # MediaPipe reads members in place: it refuses compressed ones, and so do we,
                # rather than hand it a stored copy of a file it would not load
                if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
                    raise NotPrunable(f"member {info.filename} is compressed or encrypted")
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                raise NotPrunable("the bundle holds two members of the same name")
            members = [(info, zf.read(info)) for info in infos]
    except NotPrunable:
        raise
    except _DAMAGED_ZIP as exc:
        raise NotPrunable(f"not a readable .task bundle: {type(exc).__name__}: {exc}") from exc
    if LANDMARK_MEMBER not in names:
        raise NotPrunable(f"the bundle has no {LANDMARK_MEMBER}")
    out = io.BytesIO()
    before = after = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for info, data in members:
            if info.filename == LANDMARK_MEMBER:
                data, before, after = prune_landmark_network(data)
            zf.writestr(info, data)
    return PrunedBundle(out.getvalue(), before, after)


def prune_landmark_network(model: bytes) -> tuple[bytes, int, int]:
    """Return (model without its segmentation head, operators before, operators after).

    An edit in place of a copy, not a rebuild: the subgraph's operator list is shortened to the
    kept operators and one output index changes, so the weights keep their bytes and alignment
    (a rebuild through flatbuffers' object API also left 20-30 MB of freed Python heap behind).
    """
    if len(model) < 8 or model[4:8] != b"TFL3":
        raise NotPrunable("not a TFLite model (no TFL3 identifier)")
    read = _Reader(model)
    try:
        root = Table(model, encode.Get(packer.uoffset, model, 0))
        subgraphs = read.tables(root, _MODEL_SUBGRAPHS)
        if len(subgraphs) != 1:
            raise NotPrunable(f"expected one subgraph, found {len(subgraphs)}")
        graph = subgraphs[0]
        tensors = read.tables(graph, _SUBGRAPH_TENSORS)
        shapes = [tuple(read.ints(t, _TENSOR_SHAPE, at_most=_MAX_RANK)) for t in tensors]
        if any(_flag(t, _TENSOR_IS_VARIABLE) for t in tensors):
            raise NotPrunable("the network has variable tensors (state an operator may write)")
        operators = [
            (read.ints(op, _OPERATOR_INPUTS), read.ints(op, _OPERATOR_OUTPUTS))
            for op in read.tables(graph, _SUBGRAPH_OPERATORS)
        ]
        inputs = read.ints(graph, _SUBGRAPH_INPUTS)
        outputs = read.ints(graph, _SUBGRAPH_OUTPUTS)
    except NotPrunable:
        raise  # a ValueError too, already saying what is wrong
    except _MALFORMED as exc:
        raise NotPrunable(f"not a TFLite model: damaged flatbuffer ({exc})") from exc
    _check_indices(len(shapes), inputs, outputs, operators)
    _check_layout(shapes, inputs, outputs)
    segmentation = outputs[SEGMENTATION_SLOT]
    keep = _feeding(operators, [t for t in outputs if t != segmentation])
    if len(keep) == len(operators):
        raise NotPrunable("no operator feeds the segmentation mask alone")
    if any(not outs for k, (_, outs) in enumerate(operators) if k not in keep):
        raise NotPrunable("an operator outside the kept graph has no outputs (a side effect?)")
    stand_in = _stand_in(shapes, operators, keep, set(outputs))

    out = bytearray(model)
    first, n = read.vector(graph, _SUBGRAPH_OPERATORS)
    # a vector of tables holds offsets relative to each slot: moving an entry to an earlier
    # slot adds the distance moved (offsets point forward, so they stay positive)
    targets = [first + 4 * j + struct.unpack_from("<I", model, first + 4 * j)[0] for j in range(n)]
    for slot, k in enumerate(sorted(keep)):
        struct.pack_into("<I", out, first + 4 * slot, targets[k] - (first + 4 * slot))
    struct.pack_into("<I", out, first - 4, len(keep))
    first_output, _ = read.vector(graph, _SUBGRAPH_OUTPUTS)
    struct.pack_into("<i", out, first_output + 4 * SEGMENTATION_SLOT, stand_in)
    return bytes(out), len(operators), len(keep)


class _Reader:
    """Reads vectors out of one flatbuffer, within the buffer and within a budget.

    Flatbuffers lets many tables point at one vector, so a damaged or hostile file of a few
    megabytes could make a naive reader list billions of entries; every entry a real network
    holds takes at least 4 bytes of its own, so more entries than the file has bytes means
    damage.
    """

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.left = len(buf)

    def vector(self, table: Table, slot: int, at_most: int | None = None) -> tuple[int, int]:
        """Return (position of element 0, length) of a vector field; (0, 0) when it is absent."""
        o = table.Offset(slot)
        if o == 0:
            return 0, 0
        first, n = table.Vector(o), table.VectorLen(o)
        if first + 4 * n > len(self.buf):
            raise NotPrunable(f"not a TFLite model: a vector of {n} runs past the end of the file")
        if at_most is not None and n > at_most:
            raise NotPrunable(f"not a TFLite model: a vector of {n} where at most {at_most} fit")
        self.left -= n
        if self.left < 0:
            raise NotPrunable("not a TFLite model: its vectors hold more entries than it has bytes")
        return first, n

    def ints(self, table: Table, slot: int, at_most: int | None = None) -> list[int]:
        first, n = self.vector(table, slot, at_most)
        return list(struct.unpack_from(f"<{n}i", self.buf, first)) if n else []

    def tables(self, table: Table, slot: int) -> list[Table]:
        first, n = self.vector(table, slot)
        return [Table(self.buf, table.Indirect(first + 4 * j)) for j in range(n)]


def _flag(table: Table, slot: int) -> bool:
    o = table.Offset(slot)
    return bool(o) and table.Bytes[table.Pos + o] != 0


def _check_indices(n: int, inputs: list[int], outputs: list[int], operators: Operators) -> None:
    """Require every tensor index in range (-1 only for an operator's absent optional input)."""
    wanted = [*inputs, *outputs, *(t for _, outs in operators for t in outs)]
    optional = [t for ins, _ in operators for t in ins]
    if any(not 0 <= t < n for t in wanted) or any(not -1 <= t < n for t in optional):
        raise NotPrunable(f"not a TFLite model: a tensor index outside 0..{n - 1}")


def _check_layout(shapes: list[tuple[int, ...]], inputs: list[int], outputs: list[int]) -> None:
    """Require five outputs, with a one-channel mask the size of the input in the mask slot."""
    if len(outputs) != len(OUTPUTS):
        raise NotPrunable(
            f"expected {len(OUTPUTS)} outputs ({', '.join(OUTPUTS)}), found {len(outputs)}"
        )
    image = shapes[inputs[0]] if len(inputs) == 1 else ()
    mask = shapes[outputs[SEGMENTATION_SLOT]]
    if len(image) != 4 or mask != (1, image[1], image[2], 1):
        raise NotPrunable(
            f"output {SEGMENTATION_SLOT} has shape {mask}, not a one-channel mask the size of "
            f"the input {image}"
        )


def _feeding(operators: Operators, tensors: list[int]) -> set[int]:
    """Return the indices of the operators that the given tensors depend on."""
    producer = {t: k for k, (_, outs) in enumerate(operators) for t in outs}
    needed: set[int] = set()
    stack = list(tensors)
    while stack:
        k = producer.get(stack.pop())
        if k is not None and k not in needed:
            needed.add(k)
            stack.extend(t for t in operators[k][0] if t >= 0)
    return needed


def _stand_in(
    shapes: list[tuple[int, ...]], operators: Operators, keep: set[int], outputs: set[int]
) -> int:
    """Pick the smallest tensor a kept operator computes that is not already an output.

    Not another output listed twice: tried on the full model, that ran slower than the unpruned
    network (31.8 against 21.8 ms per frame) and moved the landmarks.
    """
    candidates = [
        (math.prod(max(d, 1) for d in shapes[t]), t)
        for k in sorted(keep)
        for t in operators[k][1]
        if t not in outputs
    ]
    if not candidates:
        raise NotPrunable("no intermediate tensor to stand in for the segmentation mask")
    return min(candidates)[1]
