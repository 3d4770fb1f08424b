"""Deliberately broken implementations: the suite tests itself (issue 3, item 8).

Each mutant is the reference with one documented behaviour broken, built as a
wrapper that goes through the public Factory/Container interface. Run one
with ``--runtime libcontainer.conformance.mutants:NAME``; ``MUTANTS`` maps
each name to the clauses that must fail and the tests (``-k`` expression)
that show it. ``conformance/tests/test_mutants.py`` runs them all.

The mutants live by the clauses they break: ``mutants_lifecycle`` (the
transition table, wait, load), ``mutants_config`` (config fields dropped),
``mutants_faults`` (lost processes and stale state), ``mutants_host`` (the
host and the image); ``mutants_base`` holds the frame they are built on.
This module gathers them under one name.

No mutant sends a signal the reference would not send to a pid outside its
container, or touches a path outside the factory root and the container's
own cgroup parent.
"""

from __future__ import annotations

from .mutants_base import Delegating, MutantFactory  # noqa: F401
from .mutants_config import (DropsDeviceRules, DropsHardening, DropsIdentity, DropsLimits,  # noqa: F401
                             DropsRlimitsAndUmask, IgnoresBindFlags, IgnoresDeviceOwnerAndMode, IgnoresDevices,
                             IgnoresHostname, IgnoresIdMappings, IgnoresMaskedPaths, IgnoresMountOptions,
                             IgnoresMounts, IgnoresNamespacePaths, IgnoresNamespaces, IgnoresReadonlyPaths,
                             IgnoresReadonlyRootfs, IgnoresRootfsPropagation, IgnoresSeccompOp, IgnoresSysctl,
                             RefusesRepeatedSeccompRule, RefusesVaguely, StatsNoThrottledTime)
from .mutants_faults import (CreateNotCrashSafe, DestroyByIdForgets, DestroyReadOnlyBare,  # noqa: F401
                             ExecRaceRaw, HomeUnset, IdAliases, MissingCwdRefused, PidsWithoutZombies,
                             ResumeStoppedThaws, StaleHandleFollowsId, StatsDestroyedAsSystemFailure,
                             WaitLostKeeperNotFound, ZombieKeeper)
from .mutants_host import (DestroyRemovesParent, DevThroughLinks, ExecOneRecv, HostPathsFollowLinks,  # noqa: F401
                           LateRlimitCheck, SubCgroupsIgnored, CreateBySelect)
from .mutants_lifecycle import (DestroyLeavesCgroup, ExecWaitsForThaw, LoadIgnoresDestroy,  # noqa: F401
                                LoadInvalidIdDestroyed, PausePausedRaises, ProcessesWithDeadPid, ResumeNoop,
                                ResumeRunningRaises, SignalStoppedSilent, StateBeforeArgument,
                                StatsRefusedWhenStopped, StatusNeverStopped, WaitAfterDestroyCached,
                                WaitZeroForSignals)

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
    "CreateBySelect": (("LC-HOST-07",), "test_host_fds", "test_lifecycle_with_descriptors_above_fd_setsize"),
    # issue 10, item 4: the process and limits half
    "DropsLimits": (("LC-CFG-RES-01",), "test_config_resources", "test_memory_limit_kills_the_allocator"),
    "DropsDeviceRules": (("LC-CFG-RES-08",), "test_config_resources", "test_device_rules_make_open_fail"),
    "DropsHardening": (("LC-CFG-SEC-02",), "test_config_security", "test_default_capabilities and init"),
    "DropsIdentity": (("LC-CFG-PROC-04",), "test_config_process", "test_uid_and_gid and exec"),
    "DropsRlimitsAndUmask": (("LC-CFG-PROC-07",), "test_config_process", "test_rlimits and init"),
    "RefusesVaguely": (("LC-CFG-NOTSUP-01",), "test_config_resources", "honoured and cpu_weight"),
    "StatsNoThrottledTime": (("LC-CFG-STATS-05",), "test_config_resources",
                             "test_stats_cpu_throttling_agrees_with_the_kernel"),
    "IgnoresSeccompOp": (("LC-CFG-SEC-05",), "test_config_security", "test_seccomp_argument_comparison"),
    "RefusesRepeatedSeccompRule": (("LC-CFG-SEC-04",), "test_config_security", "test_seccomp_repeated_rule"),
    "IgnoresBindFlags": (("LC-CFG-FS-03",), "test_config_filesystem", "test_bind_mount_flags"),
}

from .mutants_created import (CREATED_MUTANTS, CreatedRunsAtOnce, CreateLateLookup,  # noqa: E402,F401
                              DestroyCreatedNoop, ExecRefusedWhenCreated, PauseCreatedNoop, SignalCreatedRefused,
                              StartAnything, StartNoop)

MUTANTS.update(CREATED_MUTANTS)

from .mutants_destroyed import (DESTROYED_MUTANTS, ConfigGoneAfterDestroy, DestroyTwiceRaises,  # noqa: E402,F401
                                ExecNotRunningWhenDestroyed, PauseDestroyedNoop, ProcessesEmptyWhenDestroyed,
                                ResumeDestroyedNoop, SignalDestroyedSilent, StatsNotRunningWhenDestroyed,
                                StatusStoppedWhenDestroyed, WaitProcessNotRunningWhenDestroyed)

MUTANTS.update(DESTROYED_MUTANTS)

from .mutants_states import (STATE_MUTANTS, ExecNamespacePid, ExecStoppedSystemFailure,  # noqa: E402,F401
                             PauseNoop, PauseStoppedNoop, ProcessesWithoutInit, ResumeStoppedNoop, SignalAlwaysKill,
                             StatsAsDict, WaitNoHang, WaitOnce, WaitProcessNoHang, WaitProcessReapedZero)

MUTANTS.update(STATE_MUTANTS)

from .mutants_more import (MORE_MUTANTS, CreateLeavesState, CreateNeverStarts, CreateReplaces,  # noqa: E402,F401
                           DestroyStoppedNoop, ExecMissingProgramSystemFailure, IdGoneAfterDestroy, Ids2014,
                           LoadUnknownNotRunning, LoadWithoutPause, PausePausingRaises,
                           SignalEsrchIgnored, SignalInvalidAsProbe, SignalPausedDelivered, StateDirBeforeIdCheck,
                           WaitFrozenNoHang, WaitProcessAnyPid)
from .mutants_more import (DestroyPausedRefused, NegativeLimitsUnlimited, ProcessesCachedAfterExit,  # noqa: E402,F401
                           SignalMembershipBeforePaused, WaitProcessUncheckedType)

MUTANTS.update(MORE_MUTANTS)

from .mutants_process import (PROCESS_MUTANTS, ArgsDropEmpty, EnvDropsEmptyValues,  # noqa: E402,F401
                              IgnoresAdditionalGids,
                              IgnoresBlkioWeight, IgnoresCpuQuota, IgnoresCpuset, IgnoresCpuShares, IgnoresCwd,
                              IgnoresHugetlb, IgnoresIoThrottles, IgnoresMemoryReservation, IgnoresMemorySwap,
                              IgnoresPidsLimit, IgnoresUmask, StatsCpuInMicroseconds, StatsMemoryInKiB,
                              StatsNoMemoryLimit, StatsPidsWithoutInit)
from .mutants_process import (DefaultSeccompProfile, HostnameUnset, IgnoresNoNewPrivileges,  # noqa: E402,F401
                              IgnoresPidNamespace, PropagationLoose)
from .mutants_process import IgnoresAmbientCaps, IgnoresCgroupNamespace, IgnoresIpcNamespace  # noqa: E402,F401

MUTANTS.update(PROCESS_MUTANTS)

from .mutants_setup import (SETUP_MUTANTS, DeviceNodesNotAllowed, LoopbackLeftDown,  # noqa: E402,F401
                            NamespacePathTypeUnchecked, NetworkWithoutRoute, RootfsCopied, StderrMergedIntoStdout,
                            SysctlNamespaceUnchecked, TerminalOutputOnly)

MUTANTS.update(SETUP_MUTANTS)

from .mutants_threads import (THREAD_MUTANTS, DestroyRefusedWhileDestroying, ExecRacingPauseFails,  # noqa: E402,F401
                              HandleNotThreadSafe, WaitRetriesDestroyed)

MUTANTS.update(THREAD_MUTANTS)

# clause -> why MUTANTS has no mutant that its tests catch every time (every other SPEC.md clause has one;
# conformance/tests/test_mutant_table.py checks that the two lists cover every clause)
NO_RELIABLE_MUTANT: dict[str, str] = {
    "LC-FAULT-10": "reference-only: the clause is the reference's own kill helper (plumbing.linux.kill_verified), "
                   "which its test calls directly and skips for any other runtime; a mutant runtime cannot change "
                   "it, and one that signalled a reused pid would break the rule above",
    "LC-RESUME-04": "mutants_threads.ResumePausingNoop (resume of PAUSING a no-op) is caught only when "
                    "test_resume_issued_while_pausing_ends_running meets PAUSING, which no call can hold (SPEC.md "
                    "'Testing PAUSING'): 0 to 12 in 100 pauses on the development host, 4 runs in 11 caught it; "
                    "a sure catch needs a task the freezer cannot freeze (a FUSE or OOM wait)",
}
