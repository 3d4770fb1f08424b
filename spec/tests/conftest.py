"""The specification's tests use the plugin's ``lc_`` fixtures by short names (``factory``, ``config``, ...)."""

from libcontainer.conformance.aliases import *  # noqa: F401,F403 - the short-name fixtures, here only
