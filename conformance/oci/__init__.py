"""Adapters that drive OCI runtimes through their command line as a :class:`libcontainer.spec.Factory`:
the presets ``--runtime runc``, ``crun`` and ``runsc``, and any runtime as ``--runtime oci:PATH FLAGS...``.

The names below are imported on first use, so that the adapter's monitor
(``python -m libcontainer.conformance.oci.monitor``) starts without them.
"""

__all__ = ["OCIFactory", "runc", "crun", "runsc", "oci"]


def __getattr__(name: str):
    if name in __all__:
        from . import factory
        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
