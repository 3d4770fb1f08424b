"""Mutants for the process, resource and stats fields of the config (SPEC.md LC-CFG-PROC-*,
LC-CFG-RES-*, LC-CFG-STATS-*): each the reference with one field silently dropped or altered, or
one stats value in the wrong unit, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import dataclasses
from typing import Callable

from libcontainer.spec import Config, Resources, Seccomp, SyscallRule

from .mutants_base import ignoring, mutant


def _process_changed(**change: Callable) -> Callable[[Config], Config]:
    """A transform of the init process: each field name -> function of its configured value."""
    def transform(config: Config) -> Config:
        process = config.process
        return dataclasses.replace(config, process=dataclasses.replace(
            process, **{name: alter(getattr(process, name)) for name, alter in change.items()}))
    return transform


def _resources_dropped(*names: str) -> Callable[[Config], Config]:
    """A transform resetting resource fields ``names`` to their defaults (the limit never written)."""
    defaults = {f.name: f for f in dataclasses.fields(Resources)}

    def transform(config: Config) -> Config:
        reset = {}
        for name in names:
            f = defaults[name]
            reset[name] = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
        return dataclasses.replace(config, resources=dataclasses.replace(config.resources, **reset))
    return transform


def _stats_altered(part: str, **change: Callable) -> Callable:
    """stats() with fields of ``part`` (memory, cpu, pids) passed through ``change``."""
    def stats(self):
        got = self.inner.stats()
        section = getattr(got, part)
        return dataclasses.replace(got, **{part: dataclasses.replace(
            section, **{name: alter(getattr(section, name)) for name, alter in change.items()})})
    return stats


def _default_seccomp(config: Config) -> Config:
    """No profile given taken as "the default profile" (Docker's behaviour): kexec_load refused."""
    if config.seccomp is not None:
        return config
    return dataclasses.replace(config, seccomp=Seccomp(syscalls=[SyscallRule(names=["kexec_load"])]))


def _propagation_loose(config: Config) -> Config:
    """An empty propagation taken as unset and its case ignored, not refused."""
    value = config.rootfs_propagation
    if isinstance(value, str):
        value = value.lower() or None
    return dataclasses.replace(config, rootfs_propagation=value)


def _without_namespace(kind: str) -> Callable[[Config], Config]:
    """A transform dropping namespace ``kind``: the container shares the host's."""
    return lambda config: dataclasses.replace(config, namespaces=[n for n in config.namespaces if n != kind])


def _without_ambient(capabilities):
    return None if capabilities is None else dataclasses.replace(capabilities, ambient=[])


def _kib(value):
    return None if value is None else value // 1024


def _usec(value):
    return None if value is None else value // 1000


def _minus_init(value):
    return None if value is None else value - 1


ArgsDropEmpty = ignoring("ArgsDropEmpty", _process_changed(args=lambda args: [a for a in args if a != ""]))
EnvDropsEmptyValues = ignoring("EnvDropsEmptyValues",
                               _process_changed(env=lambda env: [e for e in env if not e.endswith("=")]))
IgnoresCwd = ignoring("IgnoresCwd", _process_changed(cwd=lambda cwd: "/"))
IgnoresAdditionalGids = ignoring("IgnoresAdditionalGids", _process_changed(additional_gids=lambda gids: []))
IgnoresUmask = ignoring("IgnoresUmask", _process_changed(umask=lambda umask: 0o022))
IgnoresMemoryReservation = ignoring("IgnoresMemoryReservation", _resources_dropped("memory_reservation"))
IgnoresMemorySwap = ignoring("IgnoresMemorySwap", _resources_dropped("memory_swap"))
IgnoresCpuQuota = ignoring("IgnoresCpuQuota", _resources_dropped("cpu_quota", "cpu_period"))
IgnoresCpuShares = ignoring("IgnoresCpuShares", _resources_dropped("cpu_shares"))
IgnoresCpuset = ignoring("IgnoresCpuset", _resources_dropped("cpuset_cpus", "cpuset_mems"))
IgnoresPidsLimit = ignoring("IgnoresPidsLimit", _resources_dropped("pids_limit"))
IgnoresIoThrottles = ignoring("IgnoresIoThrottles", _resources_dropped(
    "blkio_throttle_read_bps_device", "blkio_throttle_write_bps_device", "blkio_throttle_read_iops_device",
    "blkio_throttle_write_iops_device"))
IgnoresBlkioWeight = ignoring("IgnoresBlkioWeight", _resources_dropped("blkio_weight"))
IgnoresHugetlb = ignoring("IgnoresHugetlb", _resources_dropped("hugetlb_limits"))
IgnoresNoNewPrivileges = ignoring("IgnoresNoNewPrivileges", _process_changed(no_new_privileges=lambda nnp: False))
DefaultSeccompProfile = ignoring("DefaultSeccompProfile", _default_seccomp)
PropagationLoose = ignoring("PropagationLoose", _propagation_loose)
HostnameUnset = ignoring("HostnameUnset", lambda config: dataclasses.replace(config, hostname=None))
IgnoresPidNamespace = ignoring("IgnoresPidNamespace", _without_namespace("pid"))
IgnoresIpcNamespace = ignoring("IgnoresIpcNamespace", _without_namespace("ipc"))
IgnoresCgroupNamespace = ignoring("IgnoresCgroupNamespace", _without_namespace("cgroup"))
IgnoresAmbientCaps = ignoring("IgnoresAmbientCaps", _process_changed(capabilities=_without_ambient))
StatsMemoryInKiB = mutant("StatsMemoryInKiB", stats=_stats_altered("memory", usage_bytes=_kib))
StatsCpuInMicroseconds = mutant("StatsCpuInMicroseconds", stats=_stats_altered("cpu", total_ns=_usec))
StatsPidsWithoutInit = mutant("StatsPidsWithoutInit", stats=_stats_altered("pids", current=_minus_init))
StatsNoMemoryLimit = mutant("StatsNoMemoryLimit", stats=_stats_altered("memory", limit_bytes=lambda limit: None))

PROCESS_MUTANTS = {
    "ArgsDropEmpty": (("LC-CFG-PROC-01",), "test_config_process", "test_args_reach_the_program and init"),
    "EnvDropsEmptyValues": (("LC-CFG-PROC-02",), "test_config_process", "test_env_is_exactly and init"),
    "IgnoresCwd": (("LC-CFG-PROC-03",), "test_config_process", "test_cwd_is and init"),
    "IgnoresAdditionalGids": (("LC-CFG-PROC-05",), "test_config_process", "test_additional_gids and init and three"),
    "IgnoresUmask": (("LC-CFG-PROC-06",), "test_config_process", "test_umask and init"),
    "IgnoresMemoryReservation": (("LC-CFG-RES-02",), "test_config_resources", "test_memory_reservation"),
    "IgnoresMemorySwap": (("LC-CFG-RES-03",), "test_config_resources", "test_memory_swap_limits"),
    "IgnoresCpuQuota": (("LC-CFG-RES-04",), "test_config_resources", "test_cpu_quota_throttles"),
    "IgnoresCpuShares": (("LC-CFG-RES-05",), "test_config_resources", "test_cpu_shares_is"),
    "IgnoresCpuset": (("LC-CFG-RES-06",), "test_config_resources", "test_cpuset_shows"),
    "IgnoresPidsLimit": (("LC-CFG-RES-07",), "test_config_resources", "test_pids_limit_makes_fork_fail and 2"),
    "IgnoresIoThrottles": (("LC-CFG-RES-09",), "test_config_resources", "test_io_throttles"),
    "IgnoresBlkioWeight": (("LC-CFG-RES-10",), "test_config_resources", "test_blkio_weight"),
    "IgnoresHugetlb": (("LC-CFG-RES-11",), "test_config_resources", "test_hugetlb_limit"),
    "IgnoresNoNewPrivileges": (("LC-CFG-SEC-03",), "test_config_security",
                               "test_no_new_privileges and init and True"),
    "DefaultSeccompProfile": (("LC-CFG-SEC-06",), "test_config_security", "test_seccomp_none and init"),
    "PropagationLoose": (("LC-CFG-FS-08",), "test_config_filesystem", "test_bad_rootfs_propagation"),
    "HostnameUnset": (("LC-NS-02",), "test_lifecycle", "test_hostname_is_applied"),
    "IgnoresPidNamespace": (("LC-NS-01",), "test_lifecycle", "test_init_is_pid_1"),
    "IgnoresIpcNamespace": (("LC-CFG-NS-03",), "test_config_namespaces", "test_ipc_namespace_hides and on"),
    "IgnoresCgroupNamespace": (("LC-CFG-NS-05",), "test_config_namespaces", "test_cgroup_namespace_roots and on"),
    "IgnoresAmbientCaps": (("LC-CFG-SEC-01",), "test_config_security", "test_capability_sets_of_a_root and init"),
    "StatsMemoryInKiB": (("LC-CFG-STATS-01",), "test_config_resources", "test_stats_memory_usage_grows"),
    "StatsCpuInMicroseconds": (("LC-CFG-STATS-02",), "test_config_resources", "test_stats_cpu_usage_grows"),
    "StatsPidsWithoutInit": (("LC-CFG-STATS-03",), "test_config_resources", "test_stats_pids_current"),
    "StatsNoMemoryLimit": (("LC-CFG-STATS-04",), "test_config_resources", "test_stats_memory_limit_and_oom"),
}
