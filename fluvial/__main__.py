"""``python -m fluvial`` runs the ``fluvial`` command line."""

from fluvial.cli import main

if __name__ == "__main__":
    main(prog_name="fluvial")
