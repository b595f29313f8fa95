"""python -m qbwc_spyne: the qbwc-spyne command line."""

import sys

from ._cli import main

sys.exit(main())
