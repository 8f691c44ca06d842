"""``python -m promethean.cli`` is the ``promethean`` command."""

import sys

from promethean.cli import main

sys.exit(main())
