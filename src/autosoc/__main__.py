"""``python -m autosoc``: the command line."""

from autosoc.cli.app import main

main()
