"""Adapters that drive OCI runtimes (runc, crun) through their command line as a
:class:`libcontainer.spec.Factory`: ``--runtime runc`` and ``--runtime crun``.

The names below are imported on first use, so that the adapter's monitor
(``python -m libcontainer.conformance.oci.monitor``) starts without them.
"""

__all__ = ["OCIFactory", "runc", "crun"]


def __getattr__(name: str):
    if name in __all__:
        from . import factory
        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
