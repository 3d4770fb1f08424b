"""Deliberately broken implementations: the suite tests itself (issue 3, item 8).

Each mutant is the reference with one documented behaviour broken, built as a
wrapper that goes through the public Factory/Container interface. Run one
with ``--runtime libcontainer.conformance.mutants:NAME``; ``MUTANTS`` maps
each name to the clauses that must fail and the tests (``-k`` expression)
that show it. ``conformance/tests/test_mutants.py`` runs them all.

No mutant sends a signal the reference would not send to a pid outside its
container, or touches a path outside the factory root and the container's
own cgroup parent.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import time

from libcontainer.spec import (Config, Container, ContainerDestroyed, ContainerPaused, ContainerStats, Factory, IDMap,
                               LibcontainerError, Process, Status, SystemFailure, validate_id)
from libcontainer.spec.errors import ContainerNotRunning


class Delegating(Container):
    """A Container that forwards every call to ``inner``."""

    def __init__(self, inner: Container):
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    def status(self) -> Status:
        return self.inner.status()

    def config(self) -> Config:
        return self.inner.config()

    def processes(self) -> list[int]:
        return self.inner.processes()

    def stats(self) -> ContainerStats:
        return self.inner.stats()

    def start_process(self, process: Process) -> int:
        return self.inner.start_process(process)

    def destroy(self) -> None:
        return self.inner.destroy()

    def pause(self) -> None:
        return self.inner.pause()

    def resume(self) -> None:
        return self.inner.resume()

    def signal(self, pid: int, sig: int) -> None:
        return self.inner.signal(pid, sig)

    def wait(self) -> int:
        return self.inner.wait()

    def wait_process(self, pid: int) -> int:
        return self.inner.wait_process(pid)

    def start(self) -> None:
        return self.inner.start()


class MutantFactory(Factory):
    """The reference factory, its containers wrapped in ``container_class``."""

    container_class = Delegating

    def __init__(self, root: str):
        from libcontainer.reference import LinuxFactory
        self.inner = LinuxFactory(root)
        self.root = self.inner.root

    def create(self, container_id: str, config: Config, start: bool = True) -> Container:
        return self.container_class(self.inner.create(container_id, config, start=start))

    def load(self, container_id: str) -> Container:
        return self.container_class(self.inner.load(container_id))


def _mutant(name: str, **methods):
    factory_methods = methods.pop("_factory", {})
    container = type(f"{name}Container", (Delegating,), methods)
    return type(name, (MutantFactory,), {"container_class": container, **factory_methods})


# -- the mutants ---------------------------------------------------------------

def _resume_noop(self):
    return None


def _destroy_leaves_cgroup(self):
    parent = self.inner.config().cgroup_parent
    self.inner.destroy()
    for hierarchy in ("/sys/fs/cgroup/freezer", "/sys/fs/cgroup"):
        if os.path.exists(os.path.join(hierarchy, "cgroup.procs")):
            os.makedirs(os.path.join(hierarchy, parent, self.id), exist_ok=True)
            return


def _wait_zero_for_signals(self):
    status = self.inner.wait()
    return 0 if status > 128 else status


def _cached_status(self):
    try:
        self._last = self.inner.status()
    except ContainerDestroyed:
        if getattr(self, "_last", None) is None:
            raise
    return self._last


def _pause_paused_raises(self):
    if self.inner.status() == Status.PAUSED:
        raise SystemFailure("container already paused")  # runc 1.1's behaviour, against the seed
    return self.inner.pause()


def _resume_running_raises(self):
    if self.inner.status() == Status.RUNNING:
        raise SystemFailure("container not paused")  # runc 1.1's ErrNotPaused, against the seed
    return self.inner.resume()


def _exec_waits_for_thaw(self, process):
    deadline = time.monotonic() + 20
    while self.inner.status() in (Status.PAUSING, Status.PAUSED) and time.monotonic() < deadline:
        time.sleep(0.05)
    return self.inner.start_process(process)


def _signal_stopped_silent(self, pid, sig):
    try:
        return self.inner.signal(pid, sig)
    except ContainerNotRunning:
        return None


def _load_invalid_id_destroyed(self, container_id):
    try:
        validate_id(container_id)
    except LibcontainerError:
        raise ContainerDestroyed(f"no container {container_id!r}") from None
    return MutantFactory.load(self, container_id)


def _wait_after_destroy_cached(self):
    try:
        self._status = self.inner.wait()
    except ContainerDestroyed:
        if getattr(self, "_status", None) is None:
            raise
    return self._status


def _state_before_argument(self, process):
    if self.inner.status() in (Status.PAUSING, Status.PAUSED):
        raise ContainerPaused("paused")
    return self.inner.start_process(process)


def _status_never_stopped(self):
    status = self.inner.status()
    return Status.RUNNING if status == Status.STOPPED else status


def _stats_refused_when_stopped(self):
    if self.inner.status() == Status.STOPPED:
        raise ContainerNotRunning("stopped")
    return self.inner.stats()


def _processes_with_a_dead_pid(self):
    pids = self.inner.processes()
    return pids + [_dead_pid()]


def _dead_pid() -> int:
    with open("/proc/sys/kernel/pid_max") as f:
        pid = int(f.read()) - 1
    while os.path.exists(f"/proc/{pid}"):
        pid -= 1
    return pid


ResumeNoop = _mutant("ResumeNoop", resume=_resume_noop)
DestroyLeavesCgroup = _mutant("DestroyLeavesCgroup", destroy=_destroy_leaves_cgroup)
WaitZeroForSignals = _mutant("WaitZeroForSignals", wait=_wait_zero_for_signals)
LoadIgnoresDestroy = _mutant("LoadIgnoresDestroy", status=_cached_status)
PausePausedRaises = _mutant("PausePausedRaises", pause=_pause_paused_raises)
ResumeRunningRaises = _mutant("ResumeRunningRaises", resume=_resume_running_raises)
ExecWaitsForThaw = _mutant("ExecWaitsForThaw", start_process=_exec_waits_for_thaw)
SignalStoppedSilent = _mutant("SignalStoppedSilent", signal=_signal_stopped_silent)
LoadInvalidIdDestroyed = _mutant("LoadInvalidIdDestroyed", _factory={"load": _load_invalid_id_destroyed})
WaitAfterDestroyCached = _mutant("WaitAfterDestroyCached", wait=_wait_after_destroy_cached)
StateBeforeArgument = _mutant("StateBeforeArgument", start_process=_state_before_argument)
StatusNeverStopped = _mutant("StatusNeverStopped", status=_status_never_stopped)
StatsRefusedWhenStopped = _mutant("StatsRefusedWhenStopped", stats=_stats_refused_when_stopped)
ProcessesWithDeadPid = _mutant("ProcessesWithDeadPid", processes=_processes_with_a_dead_pid)

# -- field-ignoring mutants (issue 10, item 4): the container half's groups ---------------------------
# Each creates every container from a config with some fields silently dropped (reset to what a runtime
# that ignores them would give), and reports nothing: create succeeds, config() is the reference's.

def _ignoring(name: str, transform):
    def create(self, container_id, config):
        return self.container_class(self.inner.create(container_id, transform(config)))
    return _mutant(name, _factory={"create": create})


def _without_namespaces(config: Config) -> Config:
    keep = [n for n in config.namespaces if n in ("mnt", "pid", "uts")]
    return dataclasses.replace(config, namespaces=keep, uid_mappings=[], gid_mappings=[], network=None, sysctl={},
                               namespace_paths={k: v for k, v in config.namespace_paths.items() if k in keep})


IgnoresNamespaces = _ignoring("IgnoresNamespaces", _without_namespaces)
IgnoresNamespacePaths = _ignoring("IgnoresNamespacePaths", lambda c: dataclasses.replace(c, namespace_paths={}))
IgnoresIdMappings = _ignoring("IgnoresIdMappings", lambda c: dataclasses.replace(
    c, uid_mappings=[IDMap(0, 100000, 65536)] if c.uid_mappings else [],
    gid_mappings=[IDMap(0, 100000, 65536)] if c.gid_mappings else []))
IgnoresMounts = _ignoring("IgnoresMounts", lambda c: dataclasses.replace(c, mounts=[]))
IgnoresMountOptions = _ignoring("IgnoresMountOptions", lambda c: dataclasses.replace(
    c, mounts=[dataclasses.replace(m, options=[o for o in m.options if o in ("bind", "rbind")]) for m in c.mounts]))
IgnoresReadonlyRootfs = _ignoring("IgnoresReadonlyRootfs", lambda c: dataclasses.replace(c, readonly_rootfs=False))
IgnoresMaskedPaths = _ignoring("IgnoresMaskedPaths", lambda c: dataclasses.replace(c, masked_paths=[]))
IgnoresReadonlyPaths = _ignoring("IgnoresReadonlyPaths", lambda c: dataclasses.replace(c, readonly_paths=[]))
IgnoresRootfsPropagation = _ignoring("IgnoresRootfsPropagation",
                                     lambda c: dataclasses.replace(c, rootfs_propagation=None))
IgnoresDevices = _ignoring("IgnoresDevices", lambda c: dataclasses.replace(c, devices=[]))
IgnoresDeviceOwnerAndMode = _ignoring("IgnoresDeviceOwnerAndMode", lambda c: dataclasses.replace(
    c, devices=[dataclasses.replace(d, file_mode=0o666, uid=0, gid=0) for d in c.devices]))
IgnoresSysctl = _ignoring("IgnoresSysctl", lambda c: dataclasses.replace(c, sysctl={}))
IgnoresHostname = _ignoring("IgnoresHostname", lambda c: dataclasses.replace(c, hostname=None))
from .mutants_faults import (CreateNotCrashSafe, DestroyByIdForgets, DestroyReadOnlyBare,  # noqa: E402,F401
                             ExecRaceRaw, HomeUnset, IdAliases, MissingCwdRefused, PidsWithoutZombies,
                             ResumeStoppedThaws, StaleHandleFollowsId, StatsDestroyedAsSystemFailure,
                             WaitLostKeeperNotFound, ZombieKeeper)
# -- issue 13, the host and the image (LC-HOST-*) ------------------------------------
# The first two reproduce a runtime that follows the image's symlinks on the host: they create paths
# through the rootfs's links, which the tests point only at a tmp directory of their own.

def _create_following_links(self, container_id, config):
    validate_id(container_id)
    for m in getattr(config, "mounts", None) or []:
        if m.type != "bind" and isinstance(m.destination, str):
            os.makedirs(os.path.join(config.rootfs, m.destination.lstrip("/")), exist_ok=True)
    return MutantFactory.create(self, container_id, config)


def _create_dev_through_links(self, container_id, config):
    validate_id(container_id)
    dev = os.path.join(config.rootfs, "dev")
    if os.path.islink(dev) and os.path.isdir(dev):
        for name in ("null", "zero", "tty"):
            open(os.path.join(dev, name), "a").close()  # where an unscoped runtime would mknod
    return MutantFactory.create(self, container_id, config)


def _cgroup_of(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            lines = [line.split(":", 2) for line in f.read().splitlines()]
    except OSError:
        return None
    for _id, controllers, path in lines:
        if "freezer" in controllers.split(","):
            return path
    return next((path for _id, controllers, path in lines if controllers == ""), None)


def _processes_top_cgroup_only(self):
    pids = self.inner.processes()
    if not pids:
        return pids
    top = _cgroup_of(pids[0])
    return [p for p in pids if _cgroup_of(p) == top]


def _destroy_removes_parent(self):
    parent = self.inner.config().cgroup_parent
    self.inner.destroy()
    for hierarchy in os.listdir("/sys/fs/cgroup"):
        try:
            os.rmdir(os.path.join("/sys/fs/cgroup", hierarchy, parent))  # only when empty, as the old reference
        except OSError:
            pass


def _soft_above_hard(process) -> bool:
    def above(pair) -> bool:
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            return False
        soft, hard = (2**64 if v == -1 else v for v in pair)
        return soft > hard
    rlimits = getattr(process, "rlimits", None)
    return isinstance(rlimits, dict) and any(above(v) for v in rlimits.values())


def _create_late_rlimit(self, container_id, config):
    if _soft_above_hard(getattr(config, "process", None)):
        raise SystemFailure("init: setrlimit: Invalid argument", errno=errno.EINVAL)  # found in init, not before
    return MutantFactory.create(self, container_id, config)


def _exec_late_rlimit(self, process):
    if _soft_above_hard(process):
        raise SystemFailure("exec: setrlimit: Invalid argument", errno=errno.EINVAL)
    return self.inner.start_process(process)


def _exec_one_recv(self, process):
    import json
    if len(json.dumps(getattr(process, "args", []))) > 36000:
        raise SystemFailure("JSONDecodeError: Unterminated string")  # the monitor read one recv()
    return self.inner.start_process(process)


HostPathsFollowLinks = _mutant("HostPathsFollowLinks", _factory={"create": _create_following_links})
DevThroughLinks = _mutant("DevThroughLinks", _factory={"create": _create_dev_through_links})
SubCgroupsIgnored = _mutant("SubCgroupsIgnored", processes=_processes_top_cgroup_only)
DestroyRemovesParent = _mutant("DestroyRemovesParent", destroy=_destroy_removes_parent)
LateRlimitCheck = _mutant("LateRlimitCheck", start_process=_exec_late_rlimit,
                          _factory={"create": _create_late_rlimit})
ExecOneRecv = _mutant("ExecOneRecv", start_process=_exec_one_recv)

# name -> (clauses that must fail, spec test module, pytest -k expression selecting the tests that show it)
MUTANTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "ResumeNoop": (("LC-RESUME-01",), "test_transitions", "PAUSED-resume"),
    "DestroyLeavesCgroup": (("LC-DESTROY-01",), "test_transitions", "RUNNING-destroy"),
    "WaitZeroForSignals": (("LC-WAIT-02",), "test_bugs", "test_signal_killed_init_gives_128_plus_signal"),
    "LoadIgnoresDestroy": (("LC-GEN-02",), "test_cross_process", "test_destroy_from_another_process"),
    "PausePausedRaises": (("LC-PAUSE-03",), "test_transitions", "PAUSED-pause"),
    "ResumeRunningRaises": (("LC-RESUME-03",), "test_transitions", "RUNNING-resume"),
    "ExecWaitsForThaw": (("LC-EXEC-03",), "test_bugs", "test_start_process_on_paused_fails_at_once_and_never_hangs"),
    "SignalStoppedSilent": (("LC-SIGNAL-04",), "test_transitions", "STOPPED-signal"),
    "LoadInvalidIdDestroyed": (("LC-ID-03",), "test_bugs", "test_hostile_ids_touch_nothing_outside_the_root"),
    "WaitAfterDestroyCached": (("LC-WAIT-03",), "test_destroyed", "test_wait_after_destroy_raises_even_when"),
    "StateBeforeArgument": (("LC-EXEC-05",), "test_errors", "test_invalid_process_raises_config_invalid_in_every"),
    "StatusNeverStopped": (("LC-STATUS-01",), "test_transitions", "STOPPED-status"),
    "StatsRefusedWhenStopped": (("LC-STATS-03",), "test_transitions", "STOPPED-stats"),
    "ProcessesWithDeadPid": (("LC-PROCS-03",), "test_transitions", "PAUSED-processes"),
    # the container half of issue 10: namespaces, mounts and paths, devices, host
    "IgnoresNamespaces": (("LC-CFG-NS-01",), "test_config_namespaces", "test_each_namespace and net-on"),
    "IgnoresNamespacePaths": (("LC-CFG-NS-06",), "test_config_namespaces", "test_namespace_path_is_joined and net"),
    "IgnoresIdMappings": (("LC-CFG-NS-04",), "test_config_namespaces", "test_user_namespace_maps"),
    "IgnoresMounts": (("LC-CFG-FS-03",), "test_config_filesystem", "test_bind_mounts"),
    "IgnoresMountOptions": (("LC-CFG-FS-04",), "test_config_filesystem", "test_tmpfs_mount"),
    "IgnoresReadonlyRootfs": (("LC-CFG-FS-02",), "test_config_filesystem", "test_readonly_rootfs and True"),
    "IgnoresMaskedPaths": (("LC-CFG-FS-05",), "test_config_filesystem", "test_masked_paths and True"),
    "IgnoresReadonlyPaths": (("LC-CFG-FS-06",), "test_config_filesystem", "test_readonly_paths and True"),
    "IgnoresRootfsPropagation": (("LC-CFG-FS-07",), "test_config_filesystem", "test_rootfs_propagation and slave"),
    "IgnoresDevices": (("LC-CFG-DEV-01",), "test_config_devices", "test_device_nodes_have"),
    "IgnoresDeviceOwnerAndMode": (("LC-CFG-DEV-01",), "test_config_devices", "test_device_nodes_have"),
    "IgnoresSysctl": (("LC-CFG-HOST-02",), "test_config_host", "test_sysctl_values"),
    "IgnoresHostname": (("LC-CFG-HOST-01",), "test_config_host", "test_hostname and lc-host"),
    # issue 13: faults
    "StaleHandleFollowsId": (("LC-FAULT-01",), "test_faults", "test_stale_handle_never_touches"),
    "CreateNotCrashSafe": (("LC-FAULT-02",), "test_faults", "test_creator_killed_during_create and cgroup-made"),
    "WaitLostKeeperNotFound": (("LC-FAULT-03",), "test_faults", "test_lost_keeper_leaves_no_unkept_init"),
    "DestroyByIdForgets": (("LC-FAULT-04",), "test_faults_state", "test_untrusted_state_is_refused and empty-list"),
    "StatsDestroyedAsSystemFailure": (("LC-FAULT-05",), "test_faults", "test_destroy_racing_stats_resume"),
    "ExecRaceRaw": (("LC-FAULT-06",), "test_faults", "test_start_process_racing_init_exit and 0.02"),
    "ZombieKeeper": (("LC-FAULT-07",), "test_faults", "test_no_zombies_after_lifecycles"),
    "IdAliases": (("LC-FAULT-09",), "test_faults", "test_long_id_and_its_hashed_name"),
    "DestroyReadOnlyBare": (("LC-FAULT-08",), "test_faults_state", "test_read_only_factory_root"),
    "ResumeStoppedThaws": (("LC-FAULT-11",), "test_faults_decisions", "test_pause_landing_as_init_exits and 0.01"),
    "MissingCwdRefused": (("LC-FAULT-12",), "test_faults_decisions", "test_missing_cwd"),
    "HomeUnset": (("LC-FAULT-13",), "test_faults_decisions", "test_home_from_passwd_or_slash"),
    "PidsWithoutZombies": (("LC-FAULT-14",), "test_faults_decisions", "test_pids_current_counts_zombies"),
    "HostPathsFollowLinks": (("LC-HOST-01",), "test_hostile_rootfs", "test_absolute_symlink_to_host_dir"),
    "DevThroughLinks": (("LC-HOST-02",), "test_hostile_rootfs", "test_dev_as_symlink_to_host_dir"),
    "SubCgroupsIgnored": (("LC-HOST-03",), "test_cgroup_tree", "test_destroy_takes_a_frozen_sub_cgroup"),
    "DestroyRemovesParent": (("LC-HOST-04",), "test_cgroup_tree", "test_destroy_keeps_an_operator_cgroup_parent"),
    "LateRlimitCheck": (("LC-HOST-05",), "test_host_input", "soft-above-hard and not exec"),
    "ExecOneRecv": (("LC-HOST-06",), "test_host_input", "test_big_argument_through_start_process"),
}


# -- config-ignoring mutants (issue 10, item 4): wrappers that silently drop fields ------------
# Each rewrites the config (and every process it starts) before handing it to the reference, as a
# runtime that does not implement the fields would behave; MUTANTS names the clauses that catch it.

import dataclasses as _dc  # noqa: E402

from libcontainer.spec import NotSupported, Resources  # noqa: E402


def _field_dropper(name: str, config_fields=None, process_fields=None, resources_fields=None):
    """A mutant factory whose create and start_process drop the named fields (back to their defaults)."""

    def strip_process(process):
        return _dc.replace(process, **process_fields) if process_fields else process

    def create(self, container_id, config):
        if isinstance(config, Config) and isinstance(config.process, Process):
            changes = dict(config_fields or {})
            changes["process"] = strip_process(config.process)
            if resources_fields:
                changes["resources"] = _dc.replace(config.resources, **resources_fields)
            config = _dc.replace(config, **changes)
        return MutantFactory.create(self, container_id, config)

    def start_process(self, process):
        if isinstance(process, Process):
            process = strip_process(process)
        return self.inner.start_process(process)

    return _mutant(name, start_process=start_process, _factory={"create": create})


def _refuse_vaguely(self, container_id, config):
    """Refuses a cpu weight with NotSupported, but after creating, and without naming the field."""
    container = MutantFactory.create(self, container_id, config)
    if isinstance(config, Config) and config.resources.cpu_weight is not None:
        raise NotSupported("not supported here")  # leaves the container running, names no field
    return container


_NO_LIMITS = {f.name: (f.default if f.default is not _dc.MISSING else f.default_factory())
              for f in _dc.fields(Resources)}
DropsLimits = _field_dropper("DropsLimits", resources_fields=_NO_LIMITS)
DropsDeviceRules = _field_dropper("DropsDeviceRules", resources_fields={"devices": None})
DropsHardening = _field_dropper("DropsHardening", config_fields={"seccomp": None},
                                process_fields={"capabilities": None, "no_new_privileges": False})
DropsIdentity = _field_dropper("DropsIdentity", process_fields={"uid": 0, "gid": 0, "additional_gids": [],
                                                                "cwd": "/"})
DropsRlimitsAndUmask = _field_dropper("DropsRlimitsAndUmask", process_fields={"rlimits": {}, "umask": 0o022})
RefusesVaguely = _mutant("RefusesVaguely", _factory={"create": _refuse_vaguely})

MUTANTS.update({
    "DropsLimits": (("LC-CFG-RES-01",), "test_config_resources", "test_memory_limit_kills_the_allocator"),
    "DropsDeviceRules": (("LC-CFG-RES-08",), "test_config_resources", "test_device_rules_make_open_fail"),
    "DropsHardening": (("LC-CFG-SEC-02",), "test_config_security", "test_default_capabilities and init"),
    "DropsIdentity": (("LC-CFG-PROC-04",), "test_config_process", "test_uid_and_gid and exec"),
    "DropsRlimitsAndUmask": (("LC-CFG-PROC-07",), "test_config_process", "test_rlimits and init"),
    "RefusesVaguely": (("LC-CFG-NOTSUP-01",), "test_config_resources", "honoured and cpu_weight"),
})


def _every_op_masked_eq(config):
    """Every seccomp argument comparison made SCMP_CMP_MASKED_EQ: a runtime that ignores ``SeccompArg.op``."""
    if not isinstance(config, Config) or config.seccomp is None:
        return config
    rules = [_dc.replace(r, args=[_dc.replace(a, op="SCMP_CMP_MASKED_EQ") for a in r.args])
             for r in config.seccomp.syscalls]
    return _dc.replace(config, seccomp=_dc.replace(config.seccomp, syscalls=rules))


IgnoresSeccompOp = _ignoring("IgnoresSeccompOp", _every_op_masked_eq)
MUTANTS["IgnoresSeccompOp"] = (("LC-CFG-SEC-05",), "test_config_security", "test_seccomp_argument_comparison")
IgnoresBindFlags = _ignoring("IgnoresBindFlags", lambda c: _dc.replace(c, mounts=[
    _dc.replace(m, options=[o for o in m.options if o in ("bind", "rbind", "ro", "rw")]) if m.type == "bind" else m
    for m in c.mounts]) if isinstance(c, Config) else c)
MUTANTS["IgnoresBindFlags"] = (("LC-CFG-FS-03",), "test_config_filesystem", "test_bind_mount_flags")

from .mutants_created import (CREATED_MUTANTS, CreatedRunsAtOnce, CreateLateLookup,  # noqa: E402,F401
                              DestroyCreatedNoop, ExecRefusedWhenCreated, PauseCreatedNoop, SignalCreatedRefused,
                              StartAnything, StartNoop)

MUTANTS.update(CREATED_MUTANTS)
