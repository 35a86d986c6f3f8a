"""``python -m blocks_log``: the blocks-log command line."""
import sys

from blocks_log.cli import main

sys.exit(main())
