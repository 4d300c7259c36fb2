"""CLI subcommands, one module each.

Every module exposes `register(subparsers)`; the parser it adds sets `func(args) -> int`.
`posture.cli` lists the modules; nothing here configures logging.
"""

from argparse import ArgumentParser


def add_model_option(p: ArgumentParser) -> None:
    """`--model`, the same for every command that runs the pose model.

    Kept as typed (a string): `./lite` is a file and `lite` a name, which a Path would merge.
    """
    p.add_argument(
        "--model",
        metavar="FILE|NAME",
        help="a .task model file, or a model name (full, lite) instead of the default",
    )
