"""The reference Linux implementation of :mod:`libcontainer.spec`.

Use :class:`LinuxFactory`::

    factory = LinuxFactory("/run/libcontainer")
    container = factory.create("web", config)   # RUNNING
"""

from .container import LinuxContainer
from .factory import DEFAULT_ROOT, LinuxFactory

__all__ = ["LinuxFactory", "LinuxContainer", "DEFAULT_ROOT"]
