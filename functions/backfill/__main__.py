import sys

from functions.backfill.cli import main

sys.exit(main())
