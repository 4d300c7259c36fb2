"""CLI subcommands, one module each.

Every module exposes `register(subparsers)`; the parser it adds sets `func(args) -> int`.
`posture.cli` lists the modules; nothing here configures logging.
"""
