"""The reference Linux implementation of :mod:`libcontainer.spec`.

Use :class:`LinuxFactory`::

    factory = LinuxFactory("/run/libcontainer")
    container = factory.create("web", config)   # RUNNING

The names below are imported on first use (PEP 562), so the per-container
monitor (``python -m libcontainer.reference.monitor``), which needs none of
them, starts without importing the factory and container modules.
"""

__all__ = ["LinuxFactory", "LinuxContainer", "DEFAULT_ROOT"]


def __getattr__(name):
    if name == "LinuxContainer":
        from .container import LinuxContainer
        return LinuxContainer
    if name in ("LinuxFactory", "DEFAULT_ROOT"):
        from . import factory
        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
