"""A :class:`libcontainer.spec.Config` as an OCI runtime bundle's ``config.json``.

The converter is :mod:`libcontainer.spec.oci` (both directions); this module
keeps the names the adapter and its tests use.
"""

from libcontainer.spec.oci import (DEFAULT_MOUNTS, NAMESPACE_TYPES, OCI_VERSION, capabilities_json,  # noqa: F401
                                   config_json, known_capabilities, process_json, resources_json, seccomp_json)
from libcontainer.spec.security import CAPABILITIES  # noqa: F401
