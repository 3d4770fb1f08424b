"""Adapters that drive OCI runtimes (runc, crun) through their command line as a
:class:`libcontainer.spec.Factory`: ``--runtime runc`` and ``--runtime crun``."""

from .factory import OCIFactory, crun, runc

__all__ = ["OCIFactory", "runc", "crun"]
