"""Mutants for the fault clauses (SPEC.md "Faults: lost processes and stale state", issue 13):
each the reference with one fault-handling behaviour broken, through the public interface (see
:mod:`libcontainer.conformance.mutants`, whose ``MUTANTS`` lists them)."""

from __future__ import annotations

import errno
import os
import signal

from libcontainer.spec import (ConfigInvalid, ContainerDestroyed, ContainerNotRunning, IdInUse, ProcessNotFound, SystemFailure,
                               validate_id)

from .mutants_base import Delegating, MutantFactory, mutant


def _stats_destroyed_as_system_failure(self):
    try:
        return self.inner.stats()
    except ContainerDestroyed as e:
        raise SystemFailure(f"stats: [Errno 19] No such device ({e})", errno=errno.ENODEV) from None  # issue 13 case 8


def _exec_race_raw(self, process):
    try:
        return self.inner.start_process(process)
    except ContainerNotRunning:
        # issue 13 case 9: the raw errno of a fork into a dying pid namespace
        raise SystemFailure("monitor request: [Errno 12] Cannot allocate memory", errno=errno.ENOMEM) from None


def _wait_lost_keeper_not_found(self):
    status = self.inner.wait()
    if status == 128 + signal.SIGKILL:
        raise ProcessNotFound("pid is not a process of the container")  # issue 13 case 4
    return status


class _FollowsIdContainer(Delegating):
    """A handle that looks its container up by id at every call (issue 13 case 2's bug)."""

    def __init__(self, inner, factory):
        super().__init__(inner)
        self._factory = factory

    def _fresh(self):
        try:
            self.inner = self._factory.inner.load(self.inner.id)
        except ContainerDestroyed:
            pass
        return self.inner

    def status(self):
        return self._fresh().status()

    def destroy(self):
        return self._fresh().destroy()


class StaleHandleFollowsId(MutantFactory):
    def create(self, container_id, config):
        return _FollowsIdContainer(self.inner.create(container_id, config), self)

    def load(self, container_id):
        return _FollowsIdContainer(self.inner.load(container_id), self)


class CreateNotCrashSafe(MutantFactory):
    """Marks the id in use (a file in the factory root) for the length of create; a killed creator
    leaves the mark, and the id is blocked for ever (issue 13 case 3's bug)."""

    def _mark(self, container_id):
        return os.path.join(self.root, f"={container_id[:200]}.creating")

    def create(self, container_id, config):
        validate_id(container_id)
        if os.path.exists(self._mark(container_id)):
            raise IdInUse(f"{container_id!r} is being created")
        with open(self._mark(container_id), "w"):
            pass
        try:
            return MutantFactory.create(self, container_id, config)
        finally:
            os.unlink(self._mark(container_id))

    def load(self, container_id):
        validate_id(container_id)
        if os.path.exists(self._mark(container_id)):
            raise ContainerDestroyed(f"{container_id!r} is being created")
        return MutantFactory.load(self, container_id)


class ZombieKeeper(MutantFactory):
    """Forks a short-lived child at every create and never reaps it (issue 13 case 12's zombies)."""

    def create(self, container_id, config):
        c = MutantFactory.create(self, container_id, config)
        if os.fork() == 0:
            os._exit(0)
        return c


class IdAliases(MutantFactory):
    """Refuses an id whose name under the old hashing (prefix, '-', SHA-256) is another id's (case 13)."""

    @staticmethod
    def _old(name):
        return name.replace("=", "-", 1) if len(name) > 128 else name

    def create(self, container_id, config):
        from libcontainer.plumbing import statedir
        mine = self._old(statedir.dir_name(container_id))
        if os.path.isdir(self.root) and any(self._old(n) == mine and n != statedir.dir_name(container_id)
                                            for n in os.listdir(self.root)):
            raise IdInUse(f"container id {container_id!r} is in use")
        return MutantFactory.create(self, container_id, config)


class DestroyByIdForgets(MutantFactory):
    """destroy(id) removes the state directory only: the processes and cgroup stay (case 5's kind)."""

    def state_dir(self, container_id):
        return self.inner.state_dir(container_id)

    def destroy(self, container_id):
        import shutil
        shutil.rmtree(self.inner.state_dir(container_id), ignore_errors=True)


def _resume_stopped_thaws(self):
    try:
        return self.inner.resume()
    except ContainerNotRunning:
        return None  # issue 13 item 4: resume of a STOPPED container left frozen "works"


def _home_unset(self, process):
    import dataclasses
    if not any(e.startswith("HOME=") for e in process.env):
        process = dataclasses.replace(process, env=list(process.env) + ["HOME="])
    return self.inner.start_process(process)


def _pids_without_zombies(self):
    stats = self.inner.stats()
    if stats.pids is not None and stats.pids.current is not None:
        stats.pids.current = len(self.inner.processes())
    return stats


def _destroy_read_only_bare(self):
    if _read_only(os.path.dirname(self.inner._dir)):
        raise OSError(errno.EROFS, "Read-only file system")  # issue 13 case 14: a bare EROFS, nothing killed
    return self.inner.destroy()


def _read_only(path):
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


class MissingCwdRefused(MutantFactory):
    """Refuses a config whose init cwd is missing from the rootfs instead of making it (LC-FAULT-12)."""

    def create(self, container_id, config):
        validate_id(container_id)
        cwd = config.process.cwd
        if isinstance(cwd, str) and isinstance(config.rootfs, str) and \
                not os.path.isdir(os.path.join(config.rootfs, cwd.lstrip("/"))):
            raise ConfigInvalid(f"process.cwd {cwd!r}: no such directory in the rootfs")
        return MutantFactory.create(self, container_id, config)


StatsDestroyedAsSystemFailure = mutant("StatsDestroyedAsSystemFailure", stats=_stats_destroyed_as_system_failure)
ExecRaceRaw = mutant("ExecRaceRaw", start_process=_exec_race_raw)
WaitLostKeeperNotFound = mutant("WaitLostKeeperNotFound", wait=_wait_lost_keeper_not_found)
ResumeStoppedThaws = mutant("ResumeStoppedThaws", resume=_resume_stopped_thaws)
HomeUnset = mutant("HomeUnset", start_process=_home_unset)
PidsWithoutZombies = mutant("PidsWithoutZombies", stats=_pids_without_zombies)
DestroyReadOnlyBare = mutant("DestroyReadOnlyBare", destroy=_destroy_read_only_bare)
