"""`python -m gkfs.forwarding.scheduling`: check a scheduler configuration file, or print,
write or check the key table of docs/forwarding.md."""

import sys

from gkfs.forwarding.scheduling.config import main

sys.exit(main())
