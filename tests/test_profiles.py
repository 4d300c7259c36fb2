"""Profile files on disk: round trip, permissions, corruption, names, shipped calibration data."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import jsonschema
import pytest

from posture.adapters.profiles import (
    ProfileStore,
    calibration_dir,
    current_metric_version,
    load_default_profile,
    load_norms,
    load_schema,
    profiles_dir,
    validate_name,
)
from posture.core.calibration import Baseline, Profile, check_profile
from posture.core.errors import ProfileError, ProfileMismatchError

SHA = "ef" * 32


def profile(name: str = "desk", **kw: object) -> Profile:
    base: dict[str, object] = dict(
        name=name,
        view="side_left",
        source="0",
        model_name="pose_landmarker_full",
        model_sha256=SHA,
        metric_version=1,
        created_utc="2025-01-06T09:00:00+00:00",
        baseline={
            "cva_deg": Baseline(61.5, 0.7, 120),
            "neck_flexion_deg": Baseline(14.0, 1.1, 118),
        },
        glance={"cva_deg": 6.0},
        cva_offset_deg=9.0,
        n_frames=150,
        n_valid=120,
    )
    base.update(kw)
    return Profile(**base)  # type: ignore[arg-type]


def test_default_dir_is_in_the_user_data_dir(isolated_home: Path) -> None:
    assert profiles_dir() == isolated_home / ".local/share/posture/profiles"
    assert ProfileStore().root == profiles_dir()


def test_round_trip_list_delete(isolated_home: Path) -> None:
    store = ProfileStore()
    assert store.names() == []
    p = profile()
    path = store.save(p)
    store.save(profile("laptop", view="front", baseline={"face_scale": Baseline(0.5, 0.01, 50)}))
    assert store.names() == ["desk", "laptop"]
    assert store.load("desk") == p
    assert store.exists("desk")
    store.delete("desk")
    assert store.names() == ["laptop"] and not path.exists()
    with pytest.raises(ProfileError, match="no calibration profile 'desk' to delete"):
        store.delete("desk")


def test_files_are_private(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path / "profiles")
    path = store.save(profile())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(store.root).st_mode) == 0o700
    store.save(profile(cva_offset_deg=3.0))  # overwrite keeps the mode, leaves no temp files
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in store.root.iterdir()) == ["desk.json"]


def test_saved_file_matches_the_json_schema(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    data = json.loads(store.save(profile()).read_text())
    jsonschema.validate(data, load_schema())
    bad = dict(data, view="upside_down")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, load_schema())


def test_missing_profile_says_how_to_calibrate(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.save(profile("laptop"))
    with pytest.raises(ProfileError, match="profile 'desk'.*laptop.*posture calibrate"):
        store.load("desk")


def test_corrupt_profile_names_the_file_and_the_problem(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    path = store.save(profile())
    path.write_text('{"schema_version": 1, "name": "desk",\n  "view": }')
    with pytest.raises(ProfileError) as info:
        store.load("desk")
    msg = str(info.value)
    assert str(path) in msg and "not valid JSON (line 2" in msg and "recalibrate" in msg
    path.write_text(json.dumps({**profile().to_dict(), "baseline": []}))
    with pytest.raises(ProfileError, match=f"{path}: field 'baseline' must be an object"):
        store.load("desk")


def test_version_mismatch_is_refused(tmp_path: Path) -> None:
    store = ProfileStore(tmp_path)
    store.save(profile(metric_version=1))
    loaded = store.load("desk")
    with pytest.raises(ProfileMismatchError, match="recalibrate"):
        check_profile(loaded, view="side_left", metric_version=2, model_sha256=SHA)
    raw = json.loads(store.path("desk").read_text())
    raw["schema_version"] = 2
    store.path("desk").write_text(json.dumps(raw))
    with pytest.raises(ProfileMismatchError, match="format version 2"):
        store.load("desk")


@pytest.mark.parametrize("name", ["", "../etc", "a/b", "a\\b", ".hidden", "x" * 65, "a..b", "dé"])
def test_unsafe_names_are_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(ProfileError, match="invalid profile name"):
        validate_name(name)
    with pytest.raises(ProfileError):
        ProfileStore(tmp_path).save(profile(), name)


@pytest.mark.parametrize("name", ["desk", "laptop", "standing-2", "home_office", "v1.2"])
def test_ordinary_names_are_fine(name: str) -> None:
    assert validate_name(name) == name


def test_calibration_data_is_found_and_valid() -> None:
    root = calibration_dir()
    assert root.joinpath("default.json").is_file()
    norms = load_norms()
    assert norms["cva_clinical_cutoff_deg"] == 50.0 and norms["neck_flexion_limit_deg"] == 25.0
    side = load_default_profile("side_left")
    assert side.limits["cva_deg"] == 50.0 + norms["cva_estimate_minus_clinical_deg"]
    jsonschema.validate(side.to_dict(), load_schema())
    front = load_default_profile("front")
    assert front.limits == {} and "head_roll_deg" in front.baseline


def test_default_norms_match_the_current_metric_version() -> None:
    pytest.importorskip("posture.core.geometry")
    assert load_norms()["metric_version"] == current_metric_version()


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("cva_offset_deg", 1e9, "from -90 to 90, found 1000000000.0"),
        ("baseline", {"cva_deg": {"median": "sixty", "mad": 1.0}}, "found {'median': 'sixty'"),
    ],
)
def test_out_of_range_profile_values_are_refused_with_the_value(
    tmp_path: Path, field: str, value: object, says: str
) -> None:
    import json

    from posture.adapters.profiles import ProfileStore
    from posture.core.errors import ProfileError

    store = ProfileStore(tmp_path / "p")
    good = profile()  # a valid calibrated profile
    store.save(good)
    path = store.path(good.name)
    data = json.loads(path.read_text())
    data[field] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError) as err:
        store.load(good.name)
    assert says in str(err.value) and str(path) in str(err.value)
