"""Mutants for the config clauses (issue 10, item 4): runtimes that silently drop fields. Each
creates every container (and, for the process fields, starts every process) from a config with
some fields reset to what a runtime that ignores them would give, and reports nothing: create
succeeds, config() is the reference's. See :mod:`libcontainer.conformance.mutants`, whose
``MUTANTS`` names the clauses that catch each."""

from __future__ import annotations

import dataclasses
import errno

from libcontainer.spec import Config, IDMap, NotSupported, Process, Resources, SystemFailure

from .mutants_base import MutantFactory, ignoring, mutant

# -- the container half: namespaces, mounts and paths, devices, host ------------------------------


def _without_namespaces(config: Config) -> Config:
    keep = [n for n in config.namespaces if n in ("mnt", "pid", "uts")]
    return dataclasses.replace(config, namespaces=keep, uid_mappings=[], gid_mappings=[], network=None, sysctl={},
                               namespace_paths={k: v for k, v in config.namespace_paths.items() if k in keep})


IgnoresNamespaces = ignoring("IgnoresNamespaces", _without_namespaces)
IgnoresNamespacePaths = ignoring("IgnoresNamespacePaths", lambda c: dataclasses.replace(c, namespace_paths={}))
IgnoresIdMappings = ignoring("IgnoresIdMappings", lambda c: dataclasses.replace(
    c, uid_mappings=[IDMap(0, 100000, 65536)] if c.uid_mappings else [],
    gid_mappings=[IDMap(0, 100000, 65536)] if c.gid_mappings else []))
IgnoresMounts = ignoring("IgnoresMounts", lambda c: dataclasses.replace(c, mounts=[]))
IgnoresMountOptions = ignoring("IgnoresMountOptions", lambda c: dataclasses.replace(
    c, mounts=[dataclasses.replace(m, options=[o for o in m.options if o in ("bind", "rbind")]) for m in c.mounts]))
IgnoresReadonlyRootfs = ignoring("IgnoresReadonlyRootfs", lambda c: dataclasses.replace(c, readonly_rootfs=False))
IgnoresMaskedPaths = ignoring("IgnoresMaskedPaths", lambda c: dataclasses.replace(c, masked_paths=[]))
IgnoresReadonlyPaths = ignoring("IgnoresReadonlyPaths", lambda c: dataclasses.replace(c, readonly_paths=[]))
IgnoresRootfsPropagation = ignoring("IgnoresRootfsPropagation",
                                    lambda c: dataclasses.replace(c, rootfs_propagation=None))
IgnoresDevices = ignoring("IgnoresDevices", lambda c: dataclasses.replace(c, devices=[]))
IgnoresDeviceOwnerAndMode = ignoring("IgnoresDeviceOwnerAndMode", lambda c: dataclasses.replace(
    c, devices=[dataclasses.replace(d, file_mode=0o666, uid=0, gid=0) for d in c.devices]))
IgnoresSysctl = ignoring("IgnoresSysctl", lambda c: dataclasses.replace(c, sysctl={}))
IgnoresHostname = ignoring("IgnoresHostname", lambda c: dataclasses.replace(c, hostname=None))

# -- the process and limits half: each rewrites the config and every process it starts ------------


def _field_dropper(name: str, config_fields=None, process_fields=None, resources_fields=None):
    """A mutant factory whose create and start_process drop the named fields (back to their defaults)."""

    def strip_process(process):
        return dataclasses.replace(process, **process_fields) if process_fields else process

    def create(self, container_id, config):
        if isinstance(config, Config) and isinstance(config.process, Process):
            changes = dict(config_fields or {})
            changes["process"] = strip_process(config.process)
            if resources_fields:
                changes["resources"] = dataclasses.replace(config.resources, **resources_fields)
            config = dataclasses.replace(config, **changes)
        return MutantFactory.create(self, container_id, config)

    def start_process(self, process):
        if isinstance(process, Process):
            process = strip_process(process)
        return self.inner.start_process(process)

    return mutant(name, start_process=start_process, _factory={"create": create})


def _refuse_vaguely(self, container_id, config):
    """Refuses a cpu weight with NotSupported, but after creating, and without naming the field."""
    container = MutantFactory.create(self, container_id, config)
    if isinstance(config, Config) and config.resources.cpu_weight is not None:
        raise NotSupported("not supported here")  # leaves the container running, names no field
    return container


_NO_LIMITS = {f.name: (f.default if f.default is not dataclasses.MISSING else f.default_factory())
              for f in dataclasses.fields(Resources)}
DropsLimits = _field_dropper("DropsLimits", resources_fields=_NO_LIMITS)
DropsDeviceRules = _field_dropper("DropsDeviceRules", resources_fields={"devices": None})
DropsHardening = _field_dropper("DropsHardening", config_fields={"seccomp": None},
                                process_fields={"capabilities": None, "no_new_privileges": False})
DropsIdentity = _field_dropper("DropsIdentity", process_fields={"uid": 0, "gid": 0, "additional_gids": [],
                                                                "cwd": "/"})
DropsRlimitsAndUmask = _field_dropper("DropsRlimitsAndUmask", process_fields={"rlimits": {}, "umask": 0o022})
RefusesVaguely = mutant("RefusesVaguely", _factory={"create": _refuse_vaguely})


def _every_op_masked_eq(config):
    """Every seccomp argument comparison made SCMP_CMP_MASKED_EQ: a runtime that ignores ``SeccompArg.op``."""
    if not isinstance(config, Config) or config.seccomp is None:
        return config
    rules = [dataclasses.replace(r, args=[dataclasses.replace(a, op="SCMP_CMP_MASKED_EQ") for a in r.args])
             for r in config.seccomp.syscalls]
    return dataclasses.replace(config, seccomp=dataclasses.replace(config.seccomp, syscalls=rules))


IgnoresSeccompOp = ignoring("IgnoresSeccompOp", _every_op_masked_eq)


def _refuse_repeated_rules(self, container_id, config, start=True):
    """create fails on a seccomp rule given twice, as the reference did (libseccomp's EEXIST raised)."""
    if isinstance(config, Config) and config.seccomp is not None:
        rules = [(tuple(r.names), r.action, r.errno_ret, tuple(r.args)) for r in config.seccomp.syscalls]
        if len(set(rules)) < len(rules):
            raise SystemFailure("seccomp_rule_add mkdir: [Errno 17] File exists", errno=errno.EEXIST)
    return MutantFactory.create(self, container_id, config, start=start)


RefusesRepeatedSeccompRule = mutant("RefusesRepeatedSeccompRule", _factory={"create": _refuse_repeated_rules})
IgnoresBindFlags = ignoring("IgnoresBindFlags", lambda c: dataclasses.replace(c, mounts=[
    dataclasses.replace(m, options=[o for o in m.options if o in ("bind", "rbind", "ro", "rw")])
    if m.type == "bind" else m for m in c.mounts]) if isinstance(c, Config) else c)


def _stats_without_throttled_time(self):
    stats = self.inner.stats()
    if stats.cpu is None:
        return stats
    return dataclasses.replace(stats, cpu=dataclasses.replace(stats.cpu, throttled_ns=0))


# a runtime whose stats read nr_throttled but not the throttled time (LC-CFG-STATS-05)
StatsNoThrottledTime = mutant("StatsNoThrottledTime", stats=_stats_without_throttled_time)
