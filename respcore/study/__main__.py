"""``python -m respcore.study``: the whole study in one command (``respcore.study.runner``);
``python -m respcore.study snapshot write|check|compare ...``: real-data snapshots (``respcore.study.snapshot``)."""
import sys

from . import snapshot
from .runner import main

if sys.argv[1:2] == ["snapshot"]:
    sys.exit(snapshot.main(sys.argv[2:]))
sys.exit(main())
