"""``python -m certify_devstack run|demo``: the entry point of ``make run`` and ``make demo``."""

import sys

from certify_devstack.stack import main

sys.exit(main())
