"""Pose model provisioning: manifest, cache, checksum-pinned download, offline build.

Theory of operation
-------------------
PoseLandmarker needs a `.task` bundle: an uncompressed (stored) zip holding `pose_detector.tflite`
and `pose_landmarks_detector.tflite`, each carrying TFLite metadata that states its input
normalisation. mediapipe >= 0.10.30 ships no pose model, so `resolve()` finds one in this order:

1. a file given explicitly (`--model PATH`): used as given, after a structural check, and its
   checksum compared with the manifest when it matches a known model;
2. a verified file in the model cache (`user_cache_dir("posture")/models`, or `$POSTURE_MODEL_DIR`);
   a cached file whose sha256 differs from the pinned one is corrupt or truncated: it is deleted
   and provisioned again, never loaded;
3. the official download from Google's model host, only when the manifest pins its sha256
   (atomic write, progress bar, verified before it replaces anything);
4. the offline build: `pip download --no-deps` of a pinned mediapipe wheel from PyPI (any
   platform's wheel carries the same model files; we pin one so the bytes are fixed) and, for a
   landmark model the wheel lacks (lite), the pinned tarball of MediaPipe's own npm package
   `@mediapipe/pose` from the npm registry; the two TFLite files are extracted and checked
   against their pinned digests, metadata added, and bundled deterministically (fixed member
   order, timestamps and attributes) so the bundle's own sha256 can be pinned too.

When every way fails, one `ModelError` lists what was tried and how to place the file by hand.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from posture.core.errors import ModelError

log = logging.getLogger(__name__)

BUNDLE_MEMBERS = ("pose_detector.tflite", "pose_landmarks_detector.tflite")
ARCHIVES = ("wheel", "npm")
"""Where an offline member can come from: the PyPI wheel (default) or the npm tarball."""
DOWNLOAD_TIMEOUT_S = 15.0
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)

ProgressFactory = Callable[[str, int | None], "Progress"]


class Progress:
    """Progress sink for downloads: `advance(n)` then `close()`. The default does nothing."""

    def advance(self, n: int) -> None:  # noqa: D102 - protocol with a no-op default
        pass

    def close(self) -> None:  # noqa: D102
        pass


def null_progress(description: str, total: int | None) -> Progress:
    """Return a progress factory that shows nothing (tests, pipes)."""
    return Progress()


def archive_of(member: dict[str, Any]) -> str:
    """Which archive an offline member comes from: its `archive` key, the wheel by default."""
    return str(member.get("archive", "wheel"))


@dataclass(frozen=True, slots=True)
class NpmTarball:
    """A pinned npm package tarball that holds model files the wheel lacks."""

    url: str
    sha256: str

    @property
    def filename(self) -> str:
        """The tarball's file name, from its registry URL."""
        return self.url.rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class OfflineRecipe:
    """How to build a model from package-registry files: a PyPI wheel, optionally an npm tarball.

    Each member names its `archive` (`wheel`, the default, or `npm`) and its path inside it.
    """

    file: str
    requirement: str
    platform: str
    python_version: str
    wheel_filename: str
    members: dict[str, dict[str, Any]]
    sha256: str | None
    npm: NpmTarball | None = None

    def __post_init__(self) -> None:
        for member, info in self.members.items():
            kind = archive_of(info)
            if kind not in ARCHIVES:
                raise ValueError(
                    f"offline member {member}: archive {kind!r} is not one of {', '.join(ARCHIVES)}"
                )
            if kind == "npm" and self.npm is None:
                raise ValueError(
                    f"offline member {member} comes from the npm tarball, "
                    "but the recipe has no 'npm' entry"
                )

    def archives(self) -> set[str]:
        """Return the archives the members come from."""
        return {archive_of(info) for info in self.members.values()}


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One model from the manifest."""

    name: str
    file: str
    url: str
    sha256: str | None
    offline: OfflineRecipe | None

    @property
    def short(self) -> str:
        """`full`, `lite` or `heavy`."""
        return self.name.removeprefix("pose_landmarker_")


@dataclass(frozen=True, slots=True)
class Manifest:
    """The models manifest (`models/manifest.json`)."""

    default: str
    models: dict[str, ModelSpec]
    source: str

    def _key(self, name: str) -> str | None:
        for key in (name, f"pose_landmarker_{name}"):
            if key in self.models:
                return key
        return None

    def knows(self, name: str) -> bool:
        """Whether `name` is a model's full or short name."""
        return self._key(name) is not None

    def short_names(self) -> str:
        """Return the models' short names for messages: `lite, full, heavy`."""
        return ", ".join(s.short for s in self.models.values())

    def get(self, name: str | None) -> ModelSpec:
        """Look a model up by full or short name (`full`, `pose_landmarker_full`)."""
        key = self._key(name or self.default)
        if key is None:
            raise ModelError(f"unknown model {name!r}; known models: {self.short_names()}")
        return self.models[key]


@dataclass(frozen=True, slots=True)
class ResolvedModel:
    """A model file ready to load, with where it came from."""

    path: Path
    name: str
    sha256: str
    origin: str
    """`explicit`, `cache`, `download` or `offline-build`."""


@dataclass
class _Attempts:
    lines: list[str] = field(default_factory=list)

    def add(self, line: str) -> None:
        log.info("model provisioning: %s", line)
        self.lines.append(line)


def manifest_path() -> Path:
    """Return the manifest in a source checkout, else the copy packaged inside the wheel."""
    checkout = Path(__file__).resolve().parents[2] / "models" / "manifest.json"
    if checkout.is_file():
        return checkout
    packaged = resources.files("posture") / "_resources" / "models" / "manifest.json"
    return Path(str(packaged))


def _recipe(name: str, off: dict[str, Any]) -> OfflineRecipe:
    """One model's offline recipe from the manifest; a bad one names the model."""
    npm = off.get("npm")
    try:
        return OfflineRecipe(
            file=off["file"],
            requirement=off["wheel"]["requirement"],
            platform=off["wheel"]["platform"],
            python_version=off["wheel"]["python_version"],
            wheel_filename=off["wheel"]["filename"],
            members=off["members"],
            sha256=off.get("sha256"),
            npm=NpmTarball(url=npm["tarball"], sha256=npm["sha256"]) if npm else None,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{name}: {exc}") from exc


def load_manifest(path: Path | None = None) -> Manifest:
    """Parse the manifest; a broken manifest is a packaging bug, reported as ModelError."""
    path = path or manifest_path()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        models: dict[str, ModelSpec] = {}
        for name, entry in raw["models"].items():
            off = entry.get("offline")
            models[name] = ModelSpec(
                name=name,
                file=entry["file"],
                url=entry["url"],
                sha256=entry.get("sha256"),
                offline=_recipe(name, off) if off else None,
            )
        return Manifest(default=raw["default"], models=models, source=str(path))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"model manifest {path} is unreadable: {exc}") from exc


def cache_dir() -> Path:
    """Where provisioned models live: `$POSTURE_MODEL_DIR`, else the user cache dir."""
    env = os.environ.get("POSTURE_MODEL_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("posture")) / "models"


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def check_bundle(path: Path) -> None:
    """Structural check of a `.task` bundle: a stored zip holding both TFLite members.

    Raises ModelError saying what is wrong; catches truncated and deflated files before MediaPipe
    sees them (it refuses deflated zips with an obscure message).
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = {i.filename: i for i in zf.infolist()}
            missing = [m for m in BUNDLE_MEMBERS if m not in infos]
            if missing:
                raise ModelError(f"{path} is not a pose model bundle: missing {', '.join(missing)}")
            deflated = [n for n, i in infos.items() if i.compress_type != zipfile.ZIP_STORED]
            if deflated:
                raise ModelError(
                    f"{path} is a compressed zip ({', '.join(deflated)}); MediaPipe needs the "
                    "members stored uncompressed: re-zip with `zip -0`"
                )
            bad = zf.testzip()
            if bad:
                raise ModelError(f"{path} is corrupt: member {bad} fails its CRC check")
    except zipfile.BadZipFile as exc:
        raise ModelError(
            f"{path} is not a valid .task bundle (truncated or corrupt): {exc}"
        ) from exc
    except OSError as exc:
        raise ModelError(f"cannot read model file {path}: {exc}") from exc


def pinned_digests(spec: ModelSpec) -> dict[str, str]:
    """File name -> pinned sha256 for every way this model can exist in the cache."""
    pins: dict[str, str] = {}
    if spec.sha256:
        pins[spec.file] = spec.sha256
    if spec.offline and spec.offline.sha256:
        pins[spec.offline.file] = spec.offline.sha256
    return pins


def verify_cached(spec: ModelSpec, directory: Path | None = None) -> list[tuple[Path, str]]:
    """Check every cached copy of `spec`: returns (path, status) with status ok/missing/corrupt."""
    directory = directory or cache_dir()
    out = []
    for fname, digest in pinned_digests(spec).items():
        p = directory / fname
        if not p.exists():
            out.append((p, "missing"))
        elif sha256_file(p) == digest:
            out.append((p, "ok"))
        else:
            out.append((p, "corrupt"))
    return out


def _from_cache(spec: ModelSpec, directory: Path, attempts: _Attempts) -> ResolvedModel | None:
    for path, status in verify_cached(spec, directory):
        if status == "ok":
            return ResolvedModel(path, spec.name, pinned_digests(spec)[path.name], "cache")
        if status == "corrupt":
            attempts.add(f"cache: {path} failed its checksum (corrupt or truncated); removed it")
            log.warning(
                "model file %s failed its checksum; removing it and provisioning again", path
            )
            path.unlink(missing_ok=True)
    attempts.add(f"cache: no verified copy in {directory}")
    return None


@contextlib.contextmanager
def _atomic_target(final: Path) -> Iterator[Path]:
    """Yield a temp file beside `final`; the caller fills it; it is removed unless renamed."""
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".part", dir=final.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def download(
    url: str,
    dest: Path,
    sha256: str,
    progress: ProgressFactory = null_progress,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download `url` to `dest` atomically, verifying `sha256` before it replaces anything."""
    with _atomic_target(dest) as tmp:
        h = hashlib.sha256()
        got = 0
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 - https only
                header = resp.headers.get("Content-Length")
                total = int(header) if header else None
                bar = progress(f"downloading {dest.name}", total)
                try:
                    with open(tmp, "wb") as out:
                        for chunk in iter(lambda: resp.read(1 << 16), b""):
                            out.write(chunk)
                            h.update(chunk)
                            got += len(chunk)
                            bar.advance(len(chunk))
                finally:
                    bar.close()
        except http.client.IncompleteRead as exc:
            raise ModelError(f"download of {url} was cut short after {got} bytes") from exc
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            raise ModelError(f"download of {url} failed: {getattr(exc, 'reason', exc)}") from exc
        if total is not None and got != total:
            raise ModelError(f"download of {url} was cut short: {got} of {total} bytes")
        if h.hexdigest() != sha256:
            raise ModelError(
                f"download of {url} has sha256 {h.hexdigest()}, expected {sha256}; not used"
            )
        os.replace(tmp, dest)
    return dest


def add_tflite_metadata(model: bytes, *, name: str, mean: float, std: float) -> bytes:
    """Return `model` with TFLite metadata naming its RGB image input and its normalisation.

    PoseLandmarker refuses a float32 image input without NormalizationOptions metadata. mediapipe's
    own metadata writer does not import in recent wheels, but the flatbuffers schema classes it
    ships are enough: we append the metadata flatbuffer as a new buffer and point a
    `TFLITE_METADATA` entry at it, leaving the graph itself untouched.
    """
    import flatbuffers
    import numpy as np

    from posture.adapters import mediapipe_modules

    meta = mediapipe_modules.load("mediapipe.tasks.metadata.metadata_schema_py_generated")
    tfl = mediapipe_modules.load("mediapipe.tasks.metadata.schema_py_generated")

    m = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(model, 0))
    graph = m.subgraphs[0]

    image = meta.TensorMetadataT()
    image.name = "image"
    content = meta.ContentT()
    content.contentPropertiesType = meta.ContentProperties.ImageProperties
    props = meta.ImagePropertiesT()
    props.colorSpace = meta.ColorSpaceType.RGB
    content.contentProperties = props
    image.content = content
    unit = meta.ProcessUnitT()
    unit.optionsType = meta.ProcessUnitOptions.NormalizationOptions
    norm = meta.NormalizationOptionsT()
    norm.mean = [mean]
    norm.std = [std]
    unit.options = norm
    image.processUnits = [unit]
    stats = meta.StatsT()
    stats.min = [(0.0 - mean) / std]
    stats.max = [(255.0 - mean) / std]
    image.stats = stats

    outputs = []
    for index in graph.outputs:
        t = meta.TensorMetadataT()
        raw_name = graph.tensors[index].name
        t.name = raw_name.decode() if isinstance(raw_name, bytes) else str(raw_name)
        outputs.append(t)
    sub = meta.SubGraphMetadataT()
    sub.inputTensorMetadata = [image]
    sub.outputTensorMetadata = outputs
    root = meta.ModelMetadataT()
    root.name = name
    root.subgraphMetadata = [sub]
    root.minParserVersion = "1.0.0"
    b = flatbuffers.Builder(0)
    b.Finish(root.Pack(b), file_identifier=b"M001")
    metadata = bytes(b.Output())

    buf = tfl.BufferT()
    buf.data = np.frombuffer(metadata, dtype=np.uint8)
    m.buffers.append(buf)
    entry = tfl.MetadataT()
    entry.name = "TFLITE_METADATA"
    entry.buffer = len(m.buffers) - 1
    m.metadata = [*(m.metadata or []), entry]
    b = flatbuffers.Builder(0)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


def write_bundle(dest: Path, members: list[tuple[str, bytes]]) -> None:
    """Write a stored zip with fixed order, timestamps and attributes: same bytes every time."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, _ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, data)


def fetch_wheel(recipe: OfflineRecipe, into: Path, timeout_s: float = 300.0) -> Path:
    """`pip download --no-deps` the pinned wheel (PyPI only; honours the user's pip config)."""
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary=:all:",
        "--platform",
        recipe.platform,
        "--python-version",
        recipe.python_version,
        "--disable-pip-version-check",
        "--quiet",
        "--dest",
        str(into),
        recipe.requirement,
    ]
    log.debug("running %s", cmd)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ModelError(f"pip download {recipe.requirement} failed: {exc}") from exc
    wheel = into / recipe.wheel_filename
    if proc.returncode != 0 or not wheel.is_file():
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ModelError(
            f"pip download {recipe.requirement} failed (exit {proc.returncode}): "
            + " | ".join(tail)
        )
    return wheel


def fetch_npm(
    tarball: NpmTarball,
    into: Path,
    progress: ProgressFactory = null_progress,
    timeout_s: float = DOWNLOAD_TIMEOUT_S,
) -> Path:
    """Download the pinned npm tarball from the registry, verified against its sha256."""
    return download(tarball.url, into / tarball.filename, tarball.sha256, progress, timeout_s)


def _read_member(archive: Path, kind: str, source: str) -> bytes:
    """One file out of a wheel (zip) or an npm tarball (gzipped tar)."""
    try:
        if kind == "wheel":
            with zipfile.ZipFile(archive) as whl:
                return whl.read(source)
        with tarfile.open(archive, "r:gz") as tar:
            fh = tar.extractfile(source)
            if fh is None:
                raise KeyError(source)
            return fh.read()
    except KeyError as exc:
        raise ModelError(f"{archive.name} has no {source}") from exc
    except (OSError, zipfile.BadZipFile, tarfile.TarError, EOFError) as exc:
        raise ModelError(f"cannot read {source} from {archive.name}: {exc}") from exc


def build_offline(
    spec: ModelSpec,
    dest_dir: Path,
    wheel: Path | None = None,
    progress: ProgressFactory = null_progress,
    npm_tarball: Path | None = None,
) -> Path:
    """Build the bundle from the pinned registry files' models; verified against the manifest.

    `wheel` and `npm_tarball` skip the fetch of an archive already at hand (tests, retries).
    """
    recipe = spec.offline
    if recipe is None:
        raise ModelError(f"{spec.name} has no offline recipe")
    needed = recipe.archives()
    with tempfile.TemporaryDirectory(prefix="posture-model-") as tmp:
        sources = f"{recipe.requirement} + npm" if "npm" in needed else recipe.requirement
        bar = progress(f"building {recipe.file} from {sources}", len(recipe.members) + len(needed))
        try:
            archives: dict[str, Path] = {}
            if "wheel" in needed:
                archives["wheel"] = wheel or fetch_wheel(recipe, Path(tmp))
                bar.advance(1)
            if recipe.npm is not None and "npm" in needed:
                archives["npm"] = npm_tarball or fetch_npm(recipe.npm, Path(tmp), progress)
                bar.advance(1)
            members: list[tuple[str, bytes]] = []
            for member, info in recipe.members.items():
                kind = archive_of(info)
                archive = archives[kind]
                data = _read_member(archive, kind, info["source"])
                digest = hashlib.sha256(data).hexdigest()
                if digest != info["sha256"]:
                    raise ModelError(
                        f"{info['source']} in {archive.name} has sha256 {digest}, "
                        f"expected {info['sha256']}; refusing to build from it"
                    )
                norm = info["normalization"]
                members.append(
                    (
                        member,
                        add_tflite_metadata(
                            data,
                            name=Path(member).stem,
                            mean=float(norm["mean"]),
                            std=float(norm["std"]),
                        ),
                    )
                )
                bar.advance(1)
        finally:
            bar.close()
        dest = dest_dir / recipe.file
        with _atomic_target(dest) as part:
            write_bundle(part, members)
            digest = sha256_file(part)
            if recipe.sha256 and digest != recipe.sha256:
                raise ModelError(
                    f"offline build of {spec.name} has sha256 {digest}, expected {recipe.sha256}; "
                    "the build is not reproducible here (please report this)"
                )
            check_bundle(part)
            os.replace(part, dest)
    return dest


def split_model_arg(
    value: str | None, manifest: Manifest | None = None
) -> tuple[Path | None, str | None]:
    """Split a `--model` value into (file, model name).

    A bare word the manifest knows (`lite`) is a name, unless a file of that name is in the way;
    anything spelled as a path (`./lite`, `x.task`) is a file.
    """
    if not value:
        return None, None
    looks_like_path = os.sep in value or "/" in value or value.endswith(".task")
    if looks_like_path or Path(value).is_file():
        return Path(value), None
    manifest = manifest or load_manifest()
    if manifest.knows(value):
        return None, value
    return Path(value), None


def pinned_model(digest: str, manifest: Manifest) -> ModelSpec | None:
    """Find the model one of whose pinned files has this sha256 (None: no model pins it)."""
    return next((s for s in manifest.models.values() if digest in pinned_digests(s).values()), None)


def fetch_hint(spec: ModelSpec) -> str:
    """How to get `spec` into the cache: `posture models fetch`, or by hand if no way is known."""
    if spec.sha256 or spec.offline:
        return f"run `posture models fetch {spec.short}` (downloads, or builds it offline)"
    return manual_instructions(spec, cache_dir())


def manual_instructions(spec: ModelSpec, directory: Path) -> str:
    """How to place the model by hand.

    The cache only serves files it can verify, so without a pinned digest the way is `--model`.
    """
    if spec.sha256 is None:
        return (
            f"Place it by hand: download {spec.url}\n"
            f"  on a machine that can reach it, then pass --model PATH (or set monitor.model to\n"
            f"  that path); this release pins no checksum for it, so the cache cannot verify it."
        )
    return (
        f"Place it by hand: download {spec.url}\n"
        f"  on a machine that can reach it, copy it to {directory / spec.file}\n"
        f"  (or pass --model PATH), then run `posture models verify`."
    )


def resolve(
    name: str | None = None,
    *,
    explicit: Path | None = None,
    directory: Path | None = None,
    allow_download: bool = True,
    allow_build: bool = True,
    manifest: Manifest | None = None,
    progress: ProgressFactory = null_progress,
    download_timeout_s: float = DOWNLOAD_TIMEOUT_S,
    given: str = "--model",
) -> ResolvedModel:
    """Find or provision a verified model file, in the order the module docstring gives.

    `given` names where `explicit` came from, for the error messages.
    """
    manifest = manifest or load_manifest()
    if explicit is not None:
        path = Path(explicit).expanduser()
        if path.is_dir():
            raise ModelError(f"{path} is a directory, not a .task model file (given with {given})")
        if not path.is_file():
            raise ModelError(
                f"model file {path} does not exist (given with {given}; "
                f"a model name is one of: {manifest.short_names()})"
            )
        check_bundle(path)
        digest = sha256_file(path)
        pinned = pinned_model(digest, manifest)
        if pinned is None:
            log.info(
                "model %s is not one the manifest pins (sha256 %s); using it as given", path, digest
            )
        return ResolvedModel(path, pinned.name if pinned else path.stem, digest, "explicit")

    spec = manifest.get(name)
    directory = directory or cache_dir()
    attempts = _Attempts()
    found = _from_cache(spec, directory, attempts)
    if found:
        return found

    if not allow_download:
        attempts.add("download: not attempted (offline mode)")
    elif not spec.sha256:
        attempts.add(f"download: {spec.url} skipped: this release pins no checksum for it")
    else:
        try:
            path = download(
                spec.url, directory / spec.file, spec.sha256, progress, download_timeout_s
            )
            return ResolvedModel(path, spec.name, spec.sha256, "download")
        except ModelError as exc:
            attempts.add(f"download: {exc}")

    if spec.offline is None:
        with_recipe = ", ".join(s.short for s in manifest.models.values() if s.offline)
        attempts.add(f"offline build: {spec.short} has no offline recipe (only {with_recipe})")
    elif not allow_build:
        attempts.add("offline build: not attempted")
    else:
        try:
            path = build_offline(spec, directory, progress=progress)
            return ResolvedModel(path, spec.name, sha256_file(path), "offline-build")
        except ModelError as exc:
            attempts.add(f"offline build: {exc}")

    tried = "\n".join(f"  - {line}" for line in attempts.lines)
    how = manual_instructions(spec, directory)
    if not (allow_download and allow_build) and spec.offline is not None:
        # the ways skipped here would have done it: say the command before the manual way
        how = f"Run `posture models fetch {spec.short}` (it builds it offline), or:\n{how}"
    raise ModelError(f"no usable {spec.name} model. Tried:\n{tried}\n{how}")


def cache_names(spec: ModelSpec) -> list[str]:
    """Return the names `spec` can have in the cache: the download's and the offline build's."""
    return [spec.file] + ([spec.offline.file] if spec.offline else [])


def remove_cached(spec: ModelSpec, directory: Path | None = None) -> list[Path]:
    """Delete every cached copy of `spec` (used by `posture models fetch --force`)."""
    directory = directory or cache_dir()
    removed = []
    for fname in sorted(set(cache_names(spec))):
        p = directory / fname
        if p.exists():
            p.unlink()
            removed.append(p)
    return removed


def owned_files(directory: Path | None = None, manifest: Manifest | None = None) -> list[Path]:
    """Every file in the cache that posture writes, for `posture forget --models`.

    That is each model's bundles (downloaded and offline-built, by their manifest names) and the
    `.NAME.*.part` temp files an interrupted download or build leaves. The cache may be a folder
    the user chose (`$POSTURE_MODEL_DIR`), so anything else in it is not ours to delete.
    """
    directory = directory or cache_dir()
    if not directory.is_dir():
        return []
    manifest = manifest or load_manifest()
    names = {f for spec in manifest.models.values() for f in cache_names(spec)}
    found = [directory / n for n in sorted(names) if (directory / n).is_file()]
    for name in sorted(names):
        found += sorted(p for p in directory.glob(f".{name}.*.part") if p.is_file())
    return found


def copy_into_cache(src: Path, spec: ModelSpec, directory: Path | None = None) -> Path:
    """Copy a hand-downloaded file into the cache under its manifest name, after verification."""
    directory = directory or cache_dir()
    check_bundle(src)
    digest = sha256_file(src)
    pins = pinned_digests(spec)
    target = next((f for f, d in pins.items() if d == digest), None)
    if target is None:
        raise ModelError(
            f"{src} has sha256 {digest}, which the manifest does not pin for {spec.name}"
        )
    with _atomic_target(directory / target) as part:
        shutil.copyfile(src, part)
        os.replace(part, directory / target)
    return directory / target
