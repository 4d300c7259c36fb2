"""The landmark network without its segmentation head: same landmarks, fewer operators.

Run on the real full and lite bundles (the offline builds), with real photos.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skimage.data
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from posture.adapters import model_pruning
from posture.adapters.mediapipe_modules import load
from posture.adapters.models import write_bundle
from posture.adapters.pose import MediaPipePose
from posture.core.landmarks import PoseFrame
from posture.testing import moving_photo_clip, same_landmarks, sitting_side_dir


@pytest.fixture(params=["full", "lite"], scope="module")
def bundle_path(request: pytest.FixtureRequest) -> Path:
    fixture = "provisioned_model" if request.param == "full" else "provisioned_lite"
    return Path(request.getfixturevalue(fixture).path)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _zip(members: dict[str, bytes], tmp_path: Path) -> bytes:
    path = tmp_path / "bundle.task"
    write_bundle(path, list(members.items()))
    return path.read_bytes()


def _tfl():  # type: ignore[no-untyped-def]
    return load("mediapipe.tasks.metadata.schema_py_generated")


def _model(model: bytes):  # type: ignore[no-untyped-def]
    tfl = _tfl()
    return tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))


def _graph(model: bytes):  # type: ignore[no-untyped-def]
    return _model(model).subgraphs[0]


def _pack(m) -> bytes:  # type: ignore[no-untyped-def]
    import flatbuffers

    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def _toy_network() -> bytes:
    """A tiny graph of the landmark network's shape: a trunk, five heads, a two-op mask head.

    Its operators are never run, only read, so any byte of it is structure worth mutating.
    """
    tfl = _tfl()
    shapes = [
        [1, 8, 8, 3],  # 0 image
        [1, 4, 4, 8],  # 1 trunk
        [1, 195],  # 2 landmarks
        [1, 1, 1, 1],  # 3 pose-flag logit
        [1, 1],  # 4 pose flag
        [1, 8, 8, 4],  # 5 mask decoder
        [1, 8, 8, 1],  # 6 mask
        [1, 2, 2, 39],  # 7 heatmap
        [1, 117],  # 8 world landmarks
    ]
    edges = [([0], [1]), ([1], [2]), ([1], [3]), ([3], [4]), ([1], [5]), ([5, -1], [6])]
    edges += [([1], [7]), ([1], [8])]
    graph = tfl.SubGraphT()
    graph.tensors = []
    for shape in shapes:
        t = tfl.TensorT()
        t.shape = shape
        graph.tensors.append(t)
    graph.operators = []
    for ins, outs in edges:
        op = tfl.OperatorT()
        op.inputs, op.outputs = ins, outs
        graph.operators.append(op)
    graph.inputs, graph.outputs = [0], [2, 4, 6, 7, 8]
    m = tfl.ModelT()
    m.version = 3
    m.subgraphs = [graph]
    m.buffers = [tfl.BufferT()]
    return _pack(m)


TOY = _toy_network()


def test_the_toy_network_loses_its_mask_head_and_nothing_else() -> None:
    data, before, after = model_pruning.prune_landmark_network(TOY)
    assert (before, after) == (8, 6)
    old, new = _graph(TOY), _graph(data)
    kept = [0, 1, 2, 3, 6, 7]  # in their order; 4 and 5 only fed the mask
    assert [(list(o.inputs), list(o.outputs)) for o in new.operators] == [
        (list(old.operators[k].inputs), list(old.operators[k].outputs)) for k in kept
    ]
    assert list(new.outputs) == [2, 4, 3, 7, 8]  # the pose-flag logit stands in for the mask
    assert len(data) == len(TOY)  # an edit in place: nothing moved


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(TOY) - 1), st.integers(0, 255)), max_size=4))
@example([(444, 255)])  # a flag read past the end: IndexError (found by a review's fuzzer)
def test_a_damaged_network_prunes_or_says_why(changes: list[tuple[int, int]]) -> None:
    data = bytearray(TOY)
    for pos, value in changes:
        data[pos] = value
    try:
        pruned, before, after = model_pruning.prune_landmark_network(bytes(data))
    except model_pruning.NotPrunable:
        return  # anything else (IndexError, TypeError, ...) fails the test
    assert len(pruned) == len(data) and after < before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=3))
def test_a_damaged_bundle_prunes_or_says_why(changes: list[tuple[int, int]]) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("pose_detector.tflite", b"detector")
        zf.writestr(model_pruning.LANDMARK_MEMBER, TOY)
    data = bytearray(out.getvalue())
    for pos, value in changes:
        data[pos % len(data)] = value
    try:
        pruned = model_pruning.without_segmentation(bytes(data))
    except model_pruning.NotPrunable:
        return  # anything else fails the test
    # members carry a CRC, so a bundle that prunes has its network intact: a change fell on a
    # timestamp or an attribute, and the toy lost its two mask operators as always
    assert (pruned.ops_before, pruned.ops_after) == (8, 6)


def _toy_with(edit) -> bytes:  # type: ignore[no-untyped-def]
    m = _model(TOY)
    edit(m)
    return _pack(m)


def _zip64_offset(offset: int) -> bytes:
    """A bundle whose member's header offset, in a zip64 extra field, is `offset`."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(model_pruning.LANDMARK_MEMBER, TOY)
    data = bytearray(out.getvalue())
    central = data.find(b"PK\x01\x02")
    name_len, extra_len = struct.unpack_from("<HH", data, central + 28)
    struct.pack_into("<I", data, central + 42, 0xFFFFFFFF)  # "see the zip64 extra field"
    extra = struct.pack("<HHQ", 0x0001, 8, offset)
    struct.pack_into("<H", data, central + 30, extra_len + len(extra))
    at = central + 46 + name_len + extra_len
    data[at:at] = extra
    end = data.find(b"PK\x05\x06")
    (size,) = struct.unpack_from("<I", data, end + 12)
    struct.pack_into("<I", data, end + 12, size + len(extra))
    return bytes(data)


def test_hostile_structures_are_refused_quickly() -> None:
    def huge_shared_shape(m) -> None:  # type: ignore[no-untyped-def]
        m.subgraphs[0].tensors[5].shape = [1] * 50_000  # deeper than any network's tensor

    def two_subgraphs(m) -> None:  # type: ignore[no-untyped-def]
        m.subgraphs = [m.subgraphs[0], m.subgraphs[0]]

    length = bytearray(TOY)  # the operators vector claims 2**31 entries
    graph = _tfl().Model.GetRootAs(TOY, 0).Subgraphs(0)._tab  # noqa: SLF001 - test-only peek
    struct.pack_into("<I", length, graph.Vector(graph.Offset(10)) - 4, 2**31)
    cases = [
        (_toy_with(huge_shared_shape), "a vector of 50000 where at most 8 fit"),
        (_toy_with(two_subgraphs), "expected one subgraph, found 2"),
        (bytes(length), "a vector of 2147483648 runs past the end of the file"),
    ]
    for data, match in cases:
        with pytest.raises(model_pruning.NotPrunable, match=match):
            model_pruning.prune_landmark_network(data)
    for offset in (2**62, 2**63, 2**64 - 1):  # zipfile seeks there: ValueError, OverflowError
        with pytest.raises(model_pruning.NotPrunable, match="not a readable .task bundle"):
            model_pruning.without_segmentation(_zip64_offset(offset))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf, pytest.warns(UserWarning, match="Duplicate name"):
        zf.writestr(model_pruning.LANDMARK_MEMBER, TOY)
        zf.writestr(model_pruning.LANDMARK_MEMBER, TOY)
    with pytest.raises(model_pruning.NotPrunable, match="two members of the same name"):
        model_pruning.without_segmentation(out.getvalue())


@pytest.mark.model
def test_only_the_segmentation_head_goes(bundle_path: Path) -> None:
    data = bundle_path.read_bytes()
    pruned = model_pruning.without_segmentation(data)
    before, after = _members(data), _members(pruned.data)
    assert list(after) == list(before)  # same members, same order
    assert after["pose_detector.tflite"] == before["pose_detector.tflite"]
    with zipfile.ZipFile(io.BytesIO(pruned.data)) as zf:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())

    old, new = (
        _graph(before[model_pruning.LANDMARK_MEMBER]),
        _graph(after[model_pruning.LANDMARK_MEMBER]),
    )
    assert (pruned.ops_before, pruned.ops_after) == (len(old.operators), len(new.operators))
    assert 30 <= pruned.ops_before - pruned.ops_after <= 60  # measured 46 (full) and 47 (lite)
    old_out, new_out = list(old.outputs), list(new.outputs)
    slot = model_pruning.SEGMENTATION_SLOT
    assert [t for i, t in enumerate(new_out) if i != slot] == [
        t for i, t in enumerate(old_out) if i != slot
    ]
    produced = {int(t) for op in new.operators for t in op.outputs}
    assert old_out[slot] not in produced  # nothing computes the mask any more
    stand_in = new_out[slot]
    assert stand_in in produced and stand_in not in np.delete(new_out, slot)
    assert int(np.prod(new.tensors[stand_in].shape)) == 1
    # every kept operator's inputs are still computed (or are weights / the image)
    consumed = {int(t) for op in new.operators for t in op.inputs if t >= 0}
    made_by_dropped = {int(t) for op in old.operators for t in op.outputs if int(t) not in produced}
    assert not consumed & made_by_dropped


@pytest.mark.model
def test_landmarks_are_bit_identical_on_photos(bundle_path: Path) -> None:
    photos = [skimage.data.astronaut()[:, :, ::-1]]
    side = sitting_side_dir()
    if side.is_dir():
        import cv2

        photos += [cv2.imread(str(p)) for p in sorted(side.glob("*.jpg"))[::12]]
    with (
        MediaPipePose(bundle_path, mode="image") as lean,
        MediaPipePose(bundle_path, mode="image", lean=False) as stock,
    ):
        assert lean.pruned_ops is not None and lean.unpruned_reason == ""
        assert stock.pruned_ops is None and stock.unpruned_reason == "lean=False"
        frames = [(lean.detect(p), stock.detect(p)) for p in photos]
    assert sum(a.person for a, _ in frames) >= max(1, len(photos) - 2)
    assert all(same_landmarks(a, b) for a, b in frames)


@pytest.mark.model
def test_tracking_is_bit_identical_on_a_moving_clip(bundle_path: Path) -> None:
    clip = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=40)
    with (
        MediaPipePose(bundle_path, mode="video") as lean,
        MediaPipePose(bundle_path, mode="video", lean=False) as stock,
    ):
        pairs = [(lean.detect(f, i / 15), stock.detect(f, i / 15)) for i, f in enumerate(clip)]
    assert all(a.person for a, _ in pairs)
    assert all(same_landmarks(a, b) for a, b in pairs)


@pytest.mark.model
def test_an_unknown_layout_is_loaded_as_it_is(
    model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bundle already pruned has a one-value tensor in the mask slot: left alone, and it runs."""
    once = tmp_path / "pruned.task"
    once.write_bytes(model_pruning.without_segmentation(model_path.read_bytes()).data)
    with pytest.raises(model_pruning.NotPrunable, match=r"output 2 has shape \(1, 1, 1, 1\)"):
        model_pruning.without_segmentation(once.read_bytes())
    photo = skimage.data.astronaut()[:, :, ::-1]
    with caplog.at_level(logging.INFO, logger="posture.adapters.pose"):
        with MediaPipePose(once, mode="image") as pose, MediaPipePose(model_path, "image") as ref:
            assert pose.pruned_ops is None and "output 2 has shape" in pose.unpruned_reason
            assert same_landmarks(pose.detect(photo), ref.detect(photo))
    [record] = [r for r in caplog.records if str(once) in r.getMessage()]
    assert record.levelno == logging.INFO  # another layout is not a fault: no warning
    assert "with its segmentation head" in record.getMessage()


@pytest.mark.model
def test_a_pruned_copy_that_fails_to_load_falls_back_to_the_file(
    model_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    broken = model_pruning.PrunedBundle(b"not a bundle", 332, 286)
    monkeypatch.setattr(model_pruning, "without_segmentation", lambda data: broken)
    with caplog.at_level(logging.WARNING, logger="posture.adapters.pose"):
        with MediaPipePose(model_path, mode="image") as pose:
            assert pose.pruned_ops is None
            assert pose.unpruned_reason.startswith("the pruned copy did not load")
            assert pose.detect(skimage.data.astronaut()[:, :, ::-1]).person
    [record] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "the pruned copy did not load" in record.getMessage()
    assert "please report this" in record.getMessage() and "\n" not in record.getMessage()


@pytest.mark.model
def test_a_pruned_copy_failing_its_warm_up_is_closed_and_the_file_runs(
    model_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warm_up, close = MediaPipePose._warm_up, MediaPipePose.close  # noqa: SLF001
    calls = {"warm": 0, "close": 0}

    def first_warm_up_fails(self: MediaPipePose) -> None:
        calls["warm"] += 1
        if calls["warm"] == 1:
            raise RuntimeError("CalculatorGraph::Run() failed:\nCalculator::Process() failed")
        warm_up(self)

    def counted_close(self: MediaPipePose) -> None:
        calls["close"] += self._landmarker is not None  # noqa: SLF001
        close(self)

    monkeypatch.setattr(MediaPipePose, "_warm_up", first_warm_up_fails)
    monkeypatch.setattr(MediaPipePose, "close", counted_close)
    with MediaPipePose(model_path, mode="video") as pose:
        assert calls == {"warm": 2, "close": 1}  # the pruned graph was closed before the file
        assert pose.pruned_ops is None
        assert pose.unpruned_reason == (
            "the pruned copy did not load: CalculatorGraph::Run() failed: "
            "Calculator::Process() failed"
        )
        frames = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=3)
        assert all(pose.detect(f, i / 15).person for i, f in enumerate(frames))


@pytest.mark.model
def test_the_warning_reaches_a_default_terminal(model_path: Path) -> None:
    """Logged while MediaPipe's own output is silenced, the warning still reaches stderr."""
    code = (
        "from posture import cli\n"
        "from posture.adapters import model_pruning\n"
        "from posture.adapters.pose import MediaPipePose\n"
        "cli.configure_logging(False)\n"
        "model_pruning.without_segmentation = "
        "lambda data: model_pruning.PrunedBundle(b'junk', 332, 286)\n"
        f"MediaPipePose({str(model_path)!r}, mode='image').close()\n"
        "print('loaded')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout == "loaded\n"
    [line] = out.stderr.splitlines()  # one line, and no native chatter
    assert line.startswith("posture: running ") and "please report this" in line


def _encrypted_flag(bundle: bytes) -> bytes:
    """Set the 'encrypted' bit of every member in the zip's central directory."""
    data = bytearray(bundle)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        data[pos + 8] |= 0x1
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)


def _deflated(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _edited(model: bytes, edit) -> bytes:  # type: ignore[no-untyped-def]
    m = _model(model)
    edit(m.subgraphs[0])
    return _pack(m)


@pytest.mark.model
def test_what_cannot_be_pruned_says_why(model_path: Path, tmp_path: Path) -> None:
    members = _members(model_path.read_bytes())
    network = members[model_pruning.LANDMARK_MEMBER]

    def bundle(landmarks: bytes) -> bytes:
        return _zip({**members, model_pruning.LANDMARK_MEMBER: landmarks}, tmp_path)

    def variable(g) -> None:  # type: ignore[no-untyped-def]
        g.tensors[0].isVariable = True

    def output_out_of_range(g) -> None:  # type: ignore[no-untyped-def]
        g.outputs = [*g.outputs[:2], 99_999, *g.outputs[3:]]

    def negative_output(g) -> None:  # type: ignore[no-untyped-def]
        g.operators[5].outputs = [-3]

    def side_effect(g) -> None:  # type: ignore[no-untyped-def]
        mask_head = g.operators[-1]  # an operator of the mask head: give it no outputs
        for k, op in enumerate(g.operators):
            if g.outputs[2] in list(op.outputs):
                mask_head = g.operators[k - 1]
        mask_head.outputs = []

    cases = [
        (b"PK\x03\x04 truncated", "not a readable .task bundle"),
        (
            _zip({"pose_detector.tflite": members["pose_detector.tflite"]}, tmp_path),
            "has no pose_landmarks",
        ),
        (_deflated(members), "member pose_detector.tflite is compressed or encrypted"),
        (_encrypted_flag(model_path.read_bytes()), "is compressed or encrypted"),
        (bundle(b"\x00" * 64), r"not a TFLite model \(no TFL3 identifier\)"),
        (
            bundle(network[:4] + b"TFL3" + b"\xff" * 64),
            r"not a TFLite model: damaged flatbuffer \(.+\)",
        ),
        (  # the detector network where the landmark network belongs: two outputs
            bundle(members["pose_detector.tflite"]),
            r"expected 5 outputs \(landmarks, pose flag, segmentation, heatmap, world landmarks\), "
            "found 2",
        ),
        (bundle(_edited(network, variable)), "variable tensors"),
        (bundle(_edited(network, output_out_of_range)), r"a tensor index outside 0\.\.\d+"),
        (bundle(_edited(network, negative_output)), r"a tensor index outside 0\.\.\d+"),
        (bundle(_edited(network, side_effect)), "has no outputs"),
    ]
    for data, match in cases:
        with pytest.raises(model_pruning.NotPrunable, match=match):
            model_pruning.without_segmentation(data)


def test_the_heap_is_trimmed_only_on_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    from posture.adapters import pose

    calls: list[object] = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name: calls.append(name) or _NoTrim())
    monkeypatch.setattr(sys, "platform", "win32")
    pose._return_freed_heap()  # noqa: SLF001
    assert calls == []  # CDLL(None) raises TypeError on Windows: never reached there
    monkeypatch.setattr(sys, "platform", "linux")
    pose._return_freed_heap()  # noqa: SLF001 - a C library without malloc_trim (musl): no error
    assert calls == [None]


class _NoTrim:
    """A C library without malloc_trim."""


def test_same_landmarks_notices_one_ulp_anywhere() -> None:
    rng = np.random.default_rng(0)
    frame = PoseFrame(
        t_s=0.0,
        image_size=(640, 480),
        image_xyz=rng.random((33, 3)),
        visibility=rng.random(33),
        presence=np.full(33, np.nan),  # a model without presence scores: NaN equals NaN here
        world_xyz=rng.random((33, 3)),
    )
    assert same_landmarks(frame, dataclasses.replace(frame))
    assert same_landmarks(PoseFrame.empty(0.0, (640, 480)), PoseFrame.empty(1.0, (640, 480)))
    assert not same_landmarks(frame, PoseFrame.empty(0.0, (640, 480)))
    for field in ("image_xyz", "visibility", "world_xyz"):
        nudged = getattr(frame, field).copy()
        nudged.flat[7] = np.nextafter(nudged.flat[7], 2.0)
        assert not same_landmarks(frame, dataclasses.replace(frame, **{field: nudged})), field
