"""`python -m interview_coach.cli`: the same as the `coach` command."""

import sys

from . import main

sys.exit(main())
