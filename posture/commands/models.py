"""`posture models fetch|list|verify|path`: provision and inspect the pose model."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from posture.adapters import models
from posture.core.errors import ModelError
from posture.progress import stderr_progress


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `posture models ...`."""
    p = sub.add_parser("models", help="fetch, list, verify or locate the pose model")
    msub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    f = msub.add_parser("fetch", help="provision a model (cache, download, or offline build)")
    f.add_argument(
        "name", nargs="?", default=None, help="full, lite or heavy (default: monitor.model or full)"
    )
    f.add_argument("--force", action="store_true", help="remove cached copies first")
    f.add_argument("--offline", action="store_true", help="never try the download")
    f.add_argument("--from-file", type=Path, help="a hand-downloaded .task to verify and cache")
    f.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    f.set_defaults(func=_fetch)

    ls = msub.add_parser("list", help="known models and their cache status")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)

    v = msub.add_parser("verify", help="check cached models against their pinned checksums")
    v.add_argument("name", nargs="?", default=None)
    v.set_defaults(func=_verify)

    pa = msub.add_parser(
        "path", help="print the path of the verified model (provisioning it if needed)"
    )
    pa.add_argument("name", nargs="?", default=None, help="default: monitor.model, or full")
    pa.add_argument("--no-fetch", action="store_true", help="fail instead of provisioning")
    pa.add_argument("--config", type=Path, help="settings file (default: user config dir)")
    pa.set_defaults(func=_path)


def _wanted(
    name: str | None, config: Path | None, manifest: models.Manifest
) -> tuple[Path | None, str | None, str]:
    """Say which model is meant: the name given, else `monitor.model` in the config, else full.

    The monitor, calibrate and autostart load the configured model, so provisioning or locating
    anything else would leave them without theirs. Returns (file, model name, where it was set).
    """
    if name:
        return None, name, "the command line"
    from posture.adapters.settings import load_settings
    from posture.app import model_request

    return model_request(None, load_settings(config), manifest)


def _fetch(args: argparse.Namespace) -> int:
    manifest = models.load_manifest()
    name = args.name
    if args.from_file and not name:
        # a hand-downloaded file is cached as the model it is, whatever the config chose; a file
        # no model pins is checked against the default, which refuses it
        src = args.from_file
        pinned = models.pinned_model(models.sha256_file(src), manifest) if src.is_file() else None
        name = (pinned or manifest.get(None)).short
    path, name, given = _wanted(name, args.config, manifest)
    if path is not None:  # the config names a file of its own: nothing to fetch, only to check
        if args.force:
            raise ModelError(
                f"{given} names a file ({path}), not a model to fetch; "
                "give a model name (posture models fetch full --force)"
            )
        resolved = models.resolve(explicit=path, manifest=manifest, given=given)
        print(f"{given} names {resolved.path}: nothing to fetch (sha256 {resolved.sha256[:16]}...)")
        return 0
    spec = manifest.get(name)
    if args.force:
        for p in models.remove_cached(spec):
            print(f"removed {p}")
    if args.from_file:
        dest = models.copy_into_cache(args.from_file, spec)
        print(f"verified and cached {dest}")
        return 0
    resolved = models.resolve(
        spec.name, manifest=manifest, allow_download=not args.offline, progress=stderr_progress()
    )
    print(f"{resolved.name}: {resolved.path} ({resolved.origin}, sha256 {resolved.sha256[:16]}...)")
    return 0


def _list(args: argparse.Namespace) -> int:
    manifest = models.load_manifest()
    rows: list[dict[str, Any]] = []
    for spec in manifest.models.values():
        status = models.verify_cached(spec)
        rows.append(
            {
                "name": spec.short,
                "default": spec.name == manifest.default,
                "url": spec.url,
                "offline_recipe": spec.offline is not None,
                "cached": {p.name: s for p, s in status},
            }
        )
    if args.json:
        print(json.dumps({"cache_dir": str(models.cache_dir()), "models": rows}, indent=2))
        return 0
    print(f"model cache: {models.cache_dir()}")
    for r in rows:
        cached = ", ".join(f"{n}: {s}" for n, s in r["cached"].items()) or "no pinned checksum"
        flags = " (default)" if r["default"] else ""
        recipe = "offline build available" if r["offline_recipe"] else "download only"
        print(f"  {r['name']:<6}{flags:<10} {recipe:<24} {cached}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    manifest = models.load_manifest()
    specs = [manifest.get(args.name)] if args.name else list(manifest.models.values())
    bad = 0
    for spec in specs:
        if not models.pinned_digests(spec):
            # nothing to check a copy against: say so rather than print nothing
            print(
                f"unpinned {spec.name}: this release pins no checksum for it, so no copy can "
                "be verified"
            )
            bad += bool(args.name)  # asked for by name: it is not verified
            continue
        for path, status in models.verify_cached(spec):
            print(f"{status:<8} {path}")
            if status == "corrupt":
                bad += 1
                print(
                    f"         checksum mismatch: run `posture models fetch {spec.short} --force`"
                )
    return 1 if bad else 0


def _path(args: argparse.Namespace) -> int:
    manifest = models.load_manifest()
    path, name, given = _wanted(args.name, args.config, manifest)
    resolved = models.resolve(
        name,
        explicit=path,
        given=given,
        manifest=manifest,
        allow_download=not args.no_fetch,
        allow_build=not args.no_fetch,
        progress=stderr_progress(),
    )
    print(resolved.path)
    return 0
