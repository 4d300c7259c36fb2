"""`python -m posture`: the same as the `posture` command."""

import sys

try:
    from posture.cli import main
except KeyboardInterrupt:  # Ctrl-C during start-up imports: no traceback
    print("posture: interrupted", file=sys.stderr)
    sys.exit(130)

sys.exit(main())
