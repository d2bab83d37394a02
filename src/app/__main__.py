"""`python -m app` behaves like the `sessionscribe` command."""
import sys

from app.launcher import main

sys.exit(main())
