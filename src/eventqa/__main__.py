"""Allow `python -m eventqa`."""

from eventqa.cli.main import main

main()
