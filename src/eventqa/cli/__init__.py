"""The command line: parse, call the service facade, map the outcome to an exit code."""
