"""``python -m ghostls`` and the ``ghostls`` console script."""

from ghostls.cli.main import main

if __name__ == "__main__":
    main()
