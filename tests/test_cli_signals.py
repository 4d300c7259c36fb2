"""How the `posture` process ends when a signal lands at an awkward moment: while Python is
building a class or running `exec` (what an import in progress does), the exit code must still be
the one for the signal, and no traceback shown."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

COMMAND = textwrap.dedent(
    """
    import os
    import signal


    def register(sub):
        p = sub.add_parser("boom")
        p.add_argument("how")
        p.set_defaults(func=run)


    def _signal(name):
        os.kill(os.getpid(), getattr(signal, name))


    def run(args):
        name, where = args.how.split(":")
        if where == "exec":  # like dataclasses creating __init__ from source text
            exec(f"_signal({name!r})", {"_signal": _signal})
        else:  # inside __set_name__ while a class is created: 3.11 wraps it in RuntimeError
            class Field:
                def __set_name__(self, owner, attr):
                    _signal(name)

            class Record:
                value = Field()
        return 0
    """
)


@pytest.mark.parametrize(
    ("how", "code", "said"),
    [
        ("SIGTERM:exec", 143, "posture: terminated"),
        ("SIGTERM:class", 143, "posture: terminated"),
        ("SIGINT:class", 130, "posture: interrupted"),
        ("SIGINT:exec", 130, "posture: interrupted"),
    ],
)
def test_a_signal_inside_exec_or_class_creation_ends_with_its_exit_code(
    tmp_path: Path, how: str, code: int, said: str
) -> None:
    (tmp_path / "boomcmd.py").write_text(COMMAND)
    # Run as `python -m` (how the service files and tests start posture): only that path lets
    # CPython turn a remembered KeyboardInterrupt into death by SIGINT after our exit code.
    (tmp_path / "boommain.py").write_text(
        "import sys\n"
        "from posture import cli\n"
        "cli.COMMAND_MODULES = ('boomcmd',)\n"
        f"sys.exit(cli.main(['boom', {how!r}]))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path])}
    proc = subprocess.run(
        [sys.executable, "-m", "boommain"], capture_output=True, text=True, timeout=60, env=env
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    if how == "SIGINT:exec":  # a real Ctrl-C: CPython may end by SIGINT, which shells show as 130
        assert proc.returncode in (code, -2), proc.stderr
    else:
        assert proc.returncode == code, proc.stderr
    assert said in proc.stderr
