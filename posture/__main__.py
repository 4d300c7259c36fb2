"""`python -m posture`: the same as the `posture` command."""

import sys

from posture.cli import main

sys.exit(main())
