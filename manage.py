#!/usr/bin/env python3
"""Django's command-line utility; ./manage runs it in the installed environment."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "sources"))

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crds_server.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
