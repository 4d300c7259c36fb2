"""CLI subcommands, one module each.

Every module exposes `register(subparsers)`; the parser it adds sets `func(args) -> int`.
`posture.cli` lists the modules; nothing here configures logging.
"""

from argparse import ArgumentParser, Namespace
from pathlib import Path


def add_model_option(p: ArgumentParser) -> None:
    """`--model`, the same for every command that runs the pose model.

    Kept as typed (a string): `./lite` is a file and `lite` a name, which a Path would merge.
    """
    p.add_argument(
        "--model",
        metavar="FILE|NAME",
        help="a .task model file, or a model name (full, lite) instead of the default",
    )


def history_of(args: Namespace) -> Path:
    """Return the history a command that reads or deletes it means (`report`, `forget`).

    `--db`, else `[store] path` from the settings (`--config`, which must exist, else the
    default file), else the default location: the order monitor, analyze and doctor use.
    """
    from posture.adapters.settings import load_settings
    from posture.adapters.store import default_db_path, history_path

    configured = "" if args.db else load_settings(args.config).settings.store.path
    return history_path(args.db, configured) or default_db_path()
