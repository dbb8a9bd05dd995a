"""``python -m sa_sequencing``: the ``sa-sequencing`` command."""

import sys

from .cli import main

sys.exit(main())
