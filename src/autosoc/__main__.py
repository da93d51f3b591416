"""``python -m autosoc``: the command line."""

from autosoc.cli.app import main

if __name__ == "__main__":
    main()
