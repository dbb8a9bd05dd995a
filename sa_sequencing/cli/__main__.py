"""``python -m sa_sequencing.cli``."""

import sys

from . import main

sys.exit(main())
