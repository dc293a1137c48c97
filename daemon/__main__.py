"""`python -m daemon` runs the newsd command line."""

from daemon.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
