"""Mutants for the set-up clauses the other mutant modules leave out (SPEC.md LC-CFG-FS-01,
LC-CFG-NS-02, LC-CFG-NS-07, LC-CFG-DEV-02, LC-CFG-HOST-03, LC-CFG-NET-01, LC-CFG-PROC-08,
LC-CFG-PROC-09): each the reference with the bug a real runtime has had, through the public interface
(see :mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them). Only the container's own
namespaces, its init's processes and a copy under the factory root are touched."""

from __future__ import annotations

import dataclasses
import os
import shutil

from libcontainer.spec import Config, DeviceRule, Process
from libcontainer.spec.validation import NAMESPACE_TYPES, namespace_type

from .mutants_base import MutantFactory, ignoring, mutant

IPC_SYSCTLS = ("kernel.shm", "kernel.msg", "kernel.sem", "fs.mqueue.")


def _rootfs_copy_path(root: str, container_id: str) -> str:
    return os.path.join(root, f".{container_id}.rootfs-copy")


def _create_from_copy(self, container_id, config, start=True):
    """The image copied into the runtime's own directory and the copy used as ``/`` (not the rootfs)."""
    copy = _rootfs_copy_path(self.root, container_id)
    if not (isinstance(container_id, str) and "/" not in container_id and not os.path.exists(copy)
            and os.path.isdir(getattr(config, "rootfs", "") or "")):
        return MutantFactory.create(self, container_id, config, start=start)
    shutil.copytree(config.rootfs, copy, symlinks=True)
    try:
        container = MutantFactory.create(self, container_id, dataclasses.replace(config, rootfs=copy), start=start)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise
    container.copy = copy
    return container


def _destroy_with_copy(self):
    self.inner.destroy()
    if getattr(self, "copy", None):
        shutil.rmtree(self.copy, ignore_errors=True)


def _loopback_left_down(self, container_id, config, start=True):
    """The new net namespace's ``lo`` never brought up (it starts down, network_namespaces(7))."""
    if not start or "net" not in getattr(config, "namespaces", ()) or "net" in (config.namespace_paths or {}):
        return MutantFactory.create(self, container_id, config, start=start)
    from pyroute2 import IPRoute
    container = self.inner.create(container_id, config, start=False)
    try:
        with IPRoute(netns=f"/proc/{container.processes()[0]}/ns/net") as ipr:
            ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="down")
        container.start()
    except BaseException:
        container.destroy()
        raise
    return self.container_class(container)


def _namespace_paths_unchecked(config: Config) -> Config:
    """A path of the wrong type (or no namespace at all) skipped and a fresh namespace made, not refused."""
    paths = getattr(config, "namespace_paths", None)
    if not isinstance(paths, dict):
        return config
    kept = {key: path for key, path in paths.items()
            if not isinstance(path, str) or namespace_type(path) == NAMESPACE_TYPES.get(key)}
    return dataclasses.replace(config, namespace_paths=kept) if kept != paths else config


def _device_nodes_not_allowed(config: Config) -> Config:
    """The configured nodes made, the device cgroup left to its default list: each of them denied."""
    devices = [d for d in getattr(config, "devices", None) or [] if d.type in ("c", "b", "u")]
    if not devices:
        return config
    rules = list(config.resources.devices or [DeviceRule(allow=True)])
    rules += [DeviceRule(allow=False, type="b" if d.type == "b" else "c", major=d.major, minor=d.minor)
              for d in devices]
    return dataclasses.replace(config, resources=dataclasses.replace(config.resources, devices=rules))


def _sysctl_namespace_unchecked(config: Config) -> Config:
    """A namespaced key whose namespace the container lacks skipped with a warning, not refused."""
    sysctl = getattr(config, "sysctl", None)
    if not isinstance(sysctl, dict):
        return config
    namespaces = set(getattr(config, "namespaces", None) or ())

    def applies(key) -> bool:
        if not isinstance(key, str):
            return True
        if key.startswith("net."):
            return "net" in namespaces
        if key.startswith(IPC_SYSCTLS):
            return "ipc" in namespaces
        return True
    kept = {key: value for key, value in sysctl.items() if applies(key)}
    return dataclasses.replace(config, sysctl=kept) if kept != sysctl else config


def _network_without_route(config: Config) -> Config:
    """Addresses and MTU set, the default route via ``gateway`` never added."""
    network = getattr(config, "network", None)
    if network is None or not dataclasses.is_dataclass(network):
        return config
    return dataclasses.replace(config, network=dataclasses.replace(network, gateway=None))


def _stderr_merged(process: Process) -> Process:
    """stderr not given taken as "the same as stdout" (a terminal-less ``docker run`` habit), not /dev/null."""
    if not dataclasses.is_dataclass(process) or process.stderr is not None or process.stdout is None:
        return process
    return dataclasses.replace(process, stderr=process.stdout)


def _terminal_output_only(process: Process) -> Process:
    """With ``terminal``, only stdout and stderr on the pseudo-terminal; stdin stays /dev/null (``docker run -t``
    without ``-i``)."""
    if not dataclasses.is_dataclass(process) or not process.terminal or not process.args:
        return process
    return dataclasses.replace(process, args=["sh", "-c", 'exec 0</dev/null; exec "$0" "$@"', *process.args])


def _on_processes(change):
    """A config transform and a start_process applying ``change`` to every Process."""
    def transform(config: Config) -> Config:
        process = getattr(config, "process", None)
        return dataclasses.replace(config, process=change(process)) if process is not None else config

    def start_process(self, process):
        return self.inner.start_process(change(process))
    return transform, start_process


def _ignoring_processes(name: str, change) -> type[MutantFactory]:
    transform, start_process = _on_processes(change)
    factory = ignoring(name, transform)
    factory.container_class.start_process = start_process
    return factory


RootfsCopied = mutant("RootfsCopied", destroy=_destroy_with_copy, _factory={"create": _create_from_copy})
LoopbackLeftDown = mutant("LoopbackLeftDown", _factory={"create": _loopback_left_down})
NamespacePathTypeUnchecked = ignoring("NamespacePathTypeUnchecked", _namespace_paths_unchecked)
DeviceNodesNotAllowed = ignoring("DeviceNodesNotAllowed", _device_nodes_not_allowed)
SysctlNamespaceUnchecked = ignoring("SysctlNamespaceUnchecked", _sysctl_namespace_unchecked)
NetworkWithoutRoute = ignoring("NetworkWithoutRoute", _network_without_route)
StderrMergedIntoStdout = _ignoring_processes("StderrMergedIntoStdout", _stderr_merged)
TerminalOutputOnly = _ignoring_processes("TerminalOutputOnly", _terminal_output_only)

SETUP_MUTANTS = {
    "RootfsCopied": (("LC-CFG-FS-01",), "test_config_filesystem", "test_rootfs_is_the_containers_root"),
    "LoopbackLeftDown": (("LC-CFG-NS-02",), "test_config_namespaces", "test_new_net_namespace_has_only_loopback"),
    "NamespacePathTypeUnchecked": (("LC-CFG-NS-07",), "test_config_namespaces",
                                   "test_namespace_path_of_another_type and net-uts"),
    "DeviceNodesNotAllowed": (("LC-CFG-DEV-02",), "test_config_devices", "test_device_nodes_can_be_used"),
    "SysctlNamespaceUnchecked": (("LC-CFG-HOST-03",), "test_config_host",
                                 "test_sysctl_outside and net-without-netns"),
    "NetworkWithoutRoute": (("LC-CFG-NET-01",), "test_config_network", "test_veth_pair"),
    "StderrMergedIntoStdout": (("LC-CFG-PROC-08",), "test_config_process", "test_stdio_are and init"),
    "TerminalOutputOnly": (("LC-CFG-PROC-09",), "test_config_process", "test_terminal_is_a_pty and init"),
}
