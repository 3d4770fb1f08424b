"""The container lifecycle API: interface, data classes, states and errors.

The executable specification lives in :mod:`libcontainer.spec.tests`; the
normative text, with clause IDs, in ``SPEC.md`` beside this file.
"""

from .config import (DEFAULT_NAMESPACES, NAMESPACES, Config, DeviceRule, HugepageLimit, Mount, Process, Resources,
                     ThrottleDevice, validate)
from .errors import (ConfigInvalid, ContainerDestroyed, ContainerNotCreated, ContainerNotRunning, ContainerPaused, ErrorCode,
                     IdInUse, InvalidIdFormat, LibcontainerError, NotSupported, ProcessNotFound, SystemFailure)
from .security import Capabilities, Device, IDMap, Network, Seccomp, SeccompArg, SyscallRule
from .interface import Container, Factory, validate_id
from .stats import (ContainerStats, CpuStats, HugetlbStats, IoDeviceStats, MemoryStats, NetworkInterfaceStats,
                    PidsStats)
from .status import Status
from .arguments import validate_pid, validate_process, validate_signal
from . import transitions

__all__ = [
    "Config", "Process", "Mount", "Resources", "validate", "NAMESPACES", "DEFAULT_NAMESPACES",
    "Capabilities", "Device", "IDMap", "Network", "Seccomp", "SeccompArg", "SyscallRule",
    "ErrorCode", "LibcontainerError", "IdInUse", "InvalidIdFormat", "ConfigInvalid", "ContainerDestroyed",
    "ContainerPaused", "SystemFailure", "ContainerNotRunning", "ContainerNotCreated", "ProcessNotFound", "NotSupported",
    "Container", "Factory", "validate_id", "ContainerStats", "CpuStats", "MemoryStats", "PidsStats", "Status",
    "ThrottleDevice", "DeviceRule", "HugepageLimit", "IoDeviceStats", "HugetlbStats", "NetworkInterfaceStats",
    "validate_pid", "validate_process", "validate_signal", "transitions",
]
