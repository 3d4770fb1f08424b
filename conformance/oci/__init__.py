"""Adapters that drive OCI runtimes through their command line as a :class:`libcontainer.spec.Factory`:
the presets ``--runtime runc``, ``crun`` and ``runsc``, and any runtime as ``--runtime oci:PATH FLAGS...``."""

from .factory import OCIFactory, crun, oci, runc, runsc

__all__ = ["OCIFactory", "runc", "crun", "runsc", "oci"]
