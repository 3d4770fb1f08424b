"""The one error the command line reports as it is: a message, exit status 1 (runc's)."""


class CliError(Exception):
    """A refusal or failure worded for the user; ``lcrun`` prints it and exits 1."""
