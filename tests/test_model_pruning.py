"""The landmark network without its segmentation head: same landmarks, fewer operators.

Run on the real full and lite bundles (the offline builds), with real photos.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skimage.data

from posture.adapters import model_pruning
from posture.adapters.mediapipe_modules import load
from posture.adapters.pose import MediaPipePose
from posture.core.landmarks import PoseFrame
from posture.testing import moving_photo_clip, sitting_side_dir

pytestmark = pytest.mark.model


@pytest.fixture(params=["full", "lite"], scope="module")
def bundle_path(request: pytest.FixtureRequest) -> Path:
    fixture = "provisioned_model" if request.param == "full" else "provisioned_lite"
    return Path(request.getfixturevalue(fixture).path)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _graph(model: bytes):  # type: ignore[no-untyped-def]
    tfl = load("mediapipe.tasks.metadata.schema_py_generated")
    return tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0)).subgraphs[0]


def _same(a: PoseFrame, b: PoseFrame) -> bool:
    if a.image_xyz is None or b.image_xyz is None:
        return a.image_xyz is None and b.image_xyz is None
    return (
        np.array_equal(a.image_xyz, b.image_xyz)
        and np.array_equal(a.world_xyz, b.world_xyz)
        and np.array_equal(a.visibility, b.visibility, equal_nan=True)
        and np.array_equal(a.presence, b.presence, equal_nan=True)
    )


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
    assert 30 <= pruned.ops_dropped <= 60  # measured 46 (full) and 47 (lite)
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
    assert all(_same(a, b) for a, b in frames)


def test_tracking_is_bit_identical_on_a_moving_clip(bundle_path: Path) -> None:
    clip = moving_photo_clip(skimage.data.astronaut()[:, :, ::-1], n=40)
    with (
        MediaPipePose(bundle_path, mode="video") as lean,
        MediaPipePose(bundle_path, mode="video", lean=False) as stock,
    ):
        pairs = [(lean.detect(f, i / 15), stock.detect(f, i / 15)) for i, f in enumerate(clip)]
    assert all(a.person for a, _ in pairs)
    assert all(_same(a, b) for a, b in pairs)


def test_an_unknown_layout_is_loaded_as_it_is(
    model_path: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A bundle already pruned has a one-value tensor in the mask slot: left alone, and it runs."""
    once = tmp_path / "pruned.task"
    once.write_bytes(model_pruning.without_segmentation(model_path.read_bytes()).data)
    with pytest.raises(model_pruning.NotPrunable, match=r"output 2 has shape \(1, 1, 1, 1\)"):
        model_pruning.without_segmentation(once.read_bytes())
    photo = skimage.data.astronaut()[:, :, ::-1]
    with caplog.at_level(logging.WARNING, logger="posture.adapters.pose"):
        with MediaPipePose(once, mode="image") as pose, MediaPipePose(model_path, "image") as ref:
            assert pose.pruned_ops is None and "output 2 has shape" in pose.unpruned_reason
            assert _same(pose.detect(photo), ref.detect(photo))
    assert "with its segmentation head" in caplog.text and str(once) in caplog.text


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
    assert "the pruned copy did not load" in caplog.text


def test_what_cannot_be_pruned_says_why(model_path: Path) -> None:
    members = _members(model_path.read_bytes())
    cases = [
        (b"PK\x03\x04 truncated", "not a readable .task bundle"),
        (_zip({"pose_detector.tflite": members["pose_detector.tflite"]}), "has no pose_landmarks"),
        (
            _zip({**members, model_pruning.LANDMARK_MEMBER: b"\x00" * 64}),
            "not a TFLite model|expected one subgraph|expected 5 outputs",
        ),
        (  # the detector network where the landmark network belongs: two outputs
            _zip({**members, model_pruning.LANDMARK_MEMBER: members["pose_detector.tflite"]}),
            r"expected 5 outputs \(landmarks, pose flag, segmentation, heatmap, world landmarks\), "
            "found 2",
        ),
    ]
    for data, match in cases:
        with pytest.raises(model_pruning.NotPrunable, match=match):
            model_pruning.without_segmentation(data)
