"""``python -m respcore.study``: the whole study in one command (see ``respcore.study.runner``)."""
import sys

from .runner import main

sys.exit(main())
