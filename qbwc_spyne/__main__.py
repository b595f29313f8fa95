"""python -m qbwc_spyne: the qbwc-spyne command line."""

import sys

from .cli._cli import main

sys.exit(main())
