"""Known deviations of peer runtimes (runc, crun, runsc) from SPEC.md, by test.

The specification's tests stay runtime-neutral: they name no runtime. This
table says which of them a peer runtime is known to fail, and why; the
plugin turns each entry into a strict ``xfail`` only under ``--runtime``
naming that runtime (see :mod:`libcontainer.conformance.plugin`). Each
entry is explained, with the observed behaviour and the runtime's version,
in SPEC.md's "Deviations of peer runtimes" under the same key (``D-...``).
The reference never appears here: its deviations are bugs to fix.

``tests`` are patterns matched against the end of a test's node id, ``*``
matching any text (``test_transitions.py::test_cell[PAUSED-pause]``).

A runtime author declares the deviations of their own runtime in a TOML
file, without editing this package, and passes it with
``--lc-deviations PATH`` (:func:`load_file`)::

    [[deviation]]
    key = "D-MY-PAUSE"                 # a name of the author's choosing
    clauses = ["LC-PAUSE-03"]          # the SPEC.md clauses broken
    tests = ["test_transitions.py::test_cell[PAUSED-pause]"]
    reason = "pause of a paused container fails"
    runtimes = ["mymod:make"]          # optional; default: the runtime under test
    strict = true                      # optional; false where a race decides
    raises = "NotSupported"            # optional: a libcontainer.spec error or module:Class
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from libcontainer.spec import ConfigInvalid, NotSupported, SystemFailure


@dataclass(frozen=True)
class Deviation:
    key: str               # the entry in SPEC.md's "Deviations of peer runtimes"
    runtimes: tuple        # runtime names (--runtime) that deviate
    clauses: tuple         # the SPEC.md clauses broken
    tests: tuple           # node id tails, * as wildcard
    reason: str
    raises: type | None = None
    strict: bool = True    # False only where a race decides whether the deviation shows in one run
    shows: Callable[[], bool] | None = None  # a check of this host: the deviation shows only where it is True

    def matches(self, nodeid: str) -> bool:
        return any(_pattern(t).search(nodeid) for t in self.tests)


def v1_without_hugetlb(mounts_file: str = "/proc/self/mounts") -> bool:
    """True when this host mounts cgroup v1 hierarchies (a runtime then uses its v1 manager) and none of them
    has the hugetlb controller: the hybrid layout of this project's host (proc(5) /proc/self/mounts; the v1
    hierarchies are the ``cgroup`` entries, their controllers among the options)."""
    with open(mounts_file) as f:
        v1 = [line.split()[3].split(",") for line in f if line.split()[2:3] == ["cgroup"]]
    return bool(v1) and not any("hugetlb" in options for options in v1)


def _pattern(tail: str) -> re.Pattern:
    return re.compile("(^|/)" + ".*".join(re.escape(p) for p in tail.split("*")) + "$")


DEVIATIONS = (
    Deviation("D-PAUSE-IDEMPOTENT", ("runc",), ("LC-PAUSE-03", "LC-PAUSE-04", "LC-RESUME-03", "LC-CONC-02"),
              ("test_transitions.py::test_cell[PAUSED-pause]", "test_transitions.py::test_cell[PAUSING-pause]",
               "test_transitions.py::test_cell[RUNNING-resume]",
               "test_concurrency.py::test_exec_loop_with_pause_resume_never_sticks_in_pausing"),
              "runc 1.1.5 refuses pause of a paused container ('container not running') and resume of a "
              "running one ('container not paused'); the seed makes both no-ops"),
    Deviation("D-PAUSE-IDEMPOTENT", ("runc",), ("LC-PAUSE-04", "LC-CONC-01"),
              ("test_concurrency.py::test_threads_get_only_documented_outcomes",
               "test_concurrency.py::test_racing_pauses_all_succeed_and_end_paused"),
              "runc 1.1.5 refuses pause of a paused container and resume of a running one; racing threads "
              "meet that unless the race happens to order every call (not strict: timing decides)", strict=False),
    Deviation("D-SIGNAL-PAUSED", ("runc", "crun"), ("LC-SIGNAL-03", "LC-GEN-04"),
              ("test_transitions.py::test_cell[PAUSED-signal]", "test_transitions.py::test_cell[PAUSING-signal]",
               "test_errors.py::test_which_error_wins"),
              "the runtime's kill delivers signals to a paused container (queued until thaw); it never "
              "raises ContainerPaused"),
    Deviation("D-STATS-STOPPED", ("runc",), ("LC-STATS-03",),
              ("test_transitions.py::test_cell[STOPPED-stats]",),
              "runc 1.1.5 'events --stats' refuses a stopped container ('container with id ... is not running')"),
    Deviation("D-STATS-STOPPED", ("runc",), ("LC-FAULT-05",),
              ("test_faults.py::test_destroy_racing_stats_resume_processes",),
              "runc 1.1.5 'events --stats' refuses the STOPPED state a destroy passes through (it kills "
              "first); whether a stats() call meets it is a race", strict=False),
    Deviation("D-STATS-NONE", ("crun",), ("LC-STATS-01", "LC-STATS-03"),
              ("test_lifecycle.py::test_stats_returns_container_stats",
               *(f"test_transitions.py::test_cell[{s}-stats]" for s in ("RUNNING", "PAUSING", "PAUSED", "STOPPED"))),
              "crun 1.8.1 has no 'events' command: stats() raises NotSupported", raises=NotSupported),
    Deviation("D-STATS-NONE", ("crun",), ("LC-GEN-01", "LC-CONC-01"),
              ("test_lifecycle.py::test_threads_share_one_container",
               "test_concurrency.py::test_threads_get_only_documented_outcomes"),
              "crun 1.8.1 has no 'events' command: the threads' stats() calls raise NotSupported"),
    Deviation("D-PS-STOPPED", ("crun",), ("LC-PROCS-04", "LC-EXEC-04", "LC-EXEC-05"),
              ("test_transitions.py::test_cell[STOPPED-processes]",
               "test_transitions.py::test_cell[STOPPED-start_process]",
               "test_errors.py::test_invalid_process_raises_config_invalid_in_every_state[STOPPED]"),
              "crun 1.8.1 'ps' of a stopped container crashes with SIGSEGV"),
    Deviation("D-PS-STOPPED", ("crun",), ("LC-FAULT-05",),
              ("test_faults.py::test_destroy_racing_stats_resume_processes",),
              "crun 1.8.1 'ps' crashes with SIGSEGV in the STOPPED state a destroy passes through (it kills "
              "first); whether a processes() call meets it is a race", strict=False),
    Deviation("D-CWD-BLOCKED", ("runc",), ("LC-FAULT-12",),
              ("test_faults_decisions.py::test_missing_cwd_is_made_for_init_and_refused_for_start_process",),
              "runc 1.1.5 reports an init cwd it cannot make (a file in the way) as a generic init failure "
              "('error during container init: mkdir ...: not a directory'), not as an invalid cwd",
              raises=SystemFailure),
    Deviation("D-HOME-NO-PASSWD", ("crun",), ("LC-FAULT-13",),
              ("test_faults_decisions.py::test_home_from_passwd_or_slash",),
              "crun 1.8.1 leaves HOME empty for a uid without an /etc/passwd entry; runc sets '/'"),
    Deviation("D-PAUSE-FREEZING", ("crun",), ("LC-PAUSE-01", "LC-PROCS-03"),
              ("test_lifecycle.py::test_paused_pids_are_all_live_while_processes_churn",
               "test_factory.py::test_ids_that_name_host_files_are_ordinary_ids[x.]"),
              "crun 1.8.1 'pause' returns while the v1 freezer is still FREEZING and 'state' then says running; "
              "a cgroup whose processes fork fast shows it (not strict: timing decides)", strict=False),
    Deviation("D-ID-LONG", ("runc", "crun", "runsc"), ("LC-ID-01",),
              ("test_factory.py::test_valid_ids_are_accepted[good2]",),
              "the runtime names its state directory by the id: an id over 255 bytes fails with ENAMETOOLONG"),
    Deviation("D-ID-DOT", ("crun",), ("LC-ID-01",),
              ("test_factory.py::test_valid_ids_are_accepted[...]",
               "test_factory.py::test_ids_that_name_host_files_are_ordinary_ids[.x]"),
              "crun 1.8.1 names the session keyring after the id; the kernel refuses keyring names that "
              "start with '.' (EPERM)"),
    Deviation("D-ROOTFS-PROPAGATION", ("runc",), ("LC-CFG-FS-07",),
              tuple(f"test_config_filesystem.py::test_rootfs_propagation[{p}]" for p in ("shared", "slave", "unbindable")),
              "runc 1.1.5 makes the rootfs's mount private before pivot_root and never applies linux.rootfsPropagation "
              "to the container's / afterwards: / is private whatever the value (opencontainers/runc#1755)"),
    Deviation("D-ROOTFS-SLAVE", ("crun",), ("LC-CFG-FS-07",),
              tuple(f"test_config_filesystem.py::test_rootfs_propagation[{p}]" for p in ("shared", "slave")),
              "crun 1.8.1 makes the rootfs private before applying linux.rootfsPropagation: 'slave' leaves / private "
              "(no master) and 'shared' makes a new peer group; neither receives the host's later mounts"),
)

# config semantics, the process and its limits (issue 10; SPEC.md "Config semantics: the process and its limits")
DEVIATIONS += (
    Deviation("D-UMASK-EXEC", ("runc",), ("LC-CFG-PROC-06",),
              ("test_config_process.py::test_umask_is_the_file_mode_creation_mask[*-exec]",),
              "runc 1.1.5 applies process.user.umask to the container's init only; 'runc exec --process' "
              "leaves the umask at 0022"),
    Deviation("D-DEVICES-DEFAULT", ("runc", "crun"), ("LC-CFG-RES-08",),
              ("test_config_resources.py::test_device_rules_make_open_fail_with_eperm",),
              "the runtime appends its default allowed devices (/dev/null, zero, full, random, urandom, tty, "
              "ptmx, pts) after the config's rules, so a deny-all that leaves out /dev/full does not deny it"),
    Deviation("D-HUGETLB-HYBRID", ("runc", "crun"), ("LC-CFG-RES-11", "LC-CFG-NOTSUP-01"),
              ("test_config_resources.py::test_hugetlb_limit_is_the_cgroup_hugetlb_limit",
               "test_config_resources.py::test_a_field_is_honoured_or_refused_by_name_leaving_nothing"
               "[hugetlb_limits]"),
              "on a host with no cgroup v1 hugetlb hierarchy, create with a hugetlb limit fails with a "
              "generic error (runc: 'cannot set hugetlb limit: container could not join or create cgroup'; "
              "crun: 'open /sys/fs/cgroup/hugetlb/...: No such file or directory'), not NotSupported naming "
              "the field", raises=SystemFailure, shows=v1_without_hugetlb),
    Deviation("D-BLKIO-BFQ", ("crun",), ("LC-CFG-RES-10", "LC-CFG-NOTSUP-01"),
              ("test_config_resources.py::test_blkio_weight_is_the_cgroup_io_weight",
               "test_config_resources.py::test_a_field_is_honoured_or_refused_by_name_leaving_nothing"
               "[blkio_weight]"),
              "crun 1.8.1 writes only the v1 blkio.weight file, which the BFQ scheduler does not have "
              "(it has blkio.bfq.weight): create fails with 'opening file blkio.weight for writing'",
              raises=SystemFailure),
    Deviation("D-PIDS-UNLIMITED", ("crun",), ("LC-CFG-RES-07",),
              ("test_config_resources.py::test_pids_limit_makes_fork_fail[-1]",),
              "crun 1.8.1 writes a pids limit of -1 (OCI and runc: unlimited) to pids.max, which the kernel "
              "refuses (EINVAL): create fails", raises=ConfigInvalid),
    Deviation("D-STATS-NONE", ("crun",), ("LC-CFG-STATS-01", "LC-CFG-STATS-02", "LC-CFG-STATS-03",
                                          "LC-CFG-STATS-04", "LC-CFG-STATS-05"),
              ("test_config_resources.py::test_stats_*",),
              "crun 1.8.1 has no 'events' command: stats() raises NotSupported", raises=NotSupported),
    Deviation("D-HOST-DEVLINKS", ("runc",), ("LC-HOST-02",),
              ("test_hostile_rootfs.py::test_dev_as_symlink_to_host_dir",
               "test_hostile_rootfs.py::test_device_node_through_symlink_lands_inside"),
              "runc 1.1.5 makes /dev's tmpfs inside the rootfs but creates the /dev/fd, stdin, stdout, stderr, "
              "ptmx and core symlinks through the image's 'dev' link, in the host directory it names"),
    Deviation("D-HOST-DANGLING", ("crun",), ("LC-HOST-01", "LC-HOST-02"),
              ("test_hostile_rootfs.py::test_absolute_symlink_to_host_dir_mount_lands_inside",
               "test_hostile_rootfs.py::test_relative_symlink_climbing_out_is_stopped_at_the_root",
               "test_hostile_rootfs.py::test_bind_file_through_symlink_lands_inside",
               "test_hostile_rootfs.py::test_dev_as_symlink_to_host_dir",
               "test_hostile_rootfs.py::test_device_node_through_symlink_lands_inside"),
              "crun 1.8.1 resolves inside the rootfs (openat2) but does not create a link's missing target: "
              "create fails with \"openat2 `evil`: No such file or directory\" (safe, but no container)"),
    Deviation("D-HOST-SUBCGROUP", ("runc", "crun"), ("LC-HOST-03",),
              ("test_cgroup_tree.py::test_destroy_takes_a_frozen_sub_cgroup",
               "test_cgroup_tree.py::test_resume_thaws_a_sub_cgroup_frozen_on_its_own"),
              "resume thaws only the container's own freezer cgroup, and delete -f does not thaw a sub-cgroup "
              "frozen on its own: runc 1.1.5 fails ('container init still running'), crun 1.8.1 returns after "
              "about 10 s"),
)


# gVisor's runsc 0.0~20221219.0 (Debian), run by the preset with --platform=ptrace --network=none --oci-seccomp
# --net-raw: the container runs on the Sentry, a kernel of its own in user space, not on the host's
_RUNSC = ("runsc",)
DEVIATIONS += (
    Deviation("D-RUNSC-NAMESPACES", _RUNSC, ("LC-CFG-NS-01", "LC-CFG-NS-02", "LC-CFG-NS-03", "LC-CFG-NS-04",
                                             "LC-CFG-NS-05"),
              (*(f"test_config_namespaces.py::test_each_namespace_is_new_when_listed_and_the_hosts_when_not[{n}]"
                 for n in ("pid-off", "uts-on", "uts-off", "ipc-on", "ipc-off", "net-off", "user-off",
                           "cgroup-on")),
               "test_config_namespaces.py::test_mnt_namespace_is_always_new",
               "test_config_namespaces.py::test_new_net_namespace_has_only_loopback_and_it_is_up",
               "test_config_namespaces.py::test_ipc_namespace_hides_the_hosts_sysv_objects[*]",
               "test_config_namespaces.py::test_user_namespace_maps_are_the_configs",
               "test_config_namespaces.py::test_cgroup_namespace_roots_proc_self_cgroup[*]"),
              "runsc's container runs on the Sentry, gVisor's own kernel: its namespaces are the Sentry's, "
              "never the host's, whether listed or not, and they are not the host's kind of namespace"),
    Deviation("D-RUNSC-NAMESPACES", _RUNSC, ("LC-CFG-NS-01",),
              ("test_config_namespaces.py::test_each_namespace_is_new_when_listed_and_the_hosts_when_not"
               "[cgroup-off]",),
              "with the cgroup namespace left out, 'readlink /proc/self/ns/cgroup' in the Sentry failed "
              "(exit 1) in 2 of 3 runs (not strict)", strict=False),
    Deviation("D-RUNSC-HOST", _RUNSC, ("LC-CFG-HOST-01", "LC-CFG-HOST-02"),
              ("test_config_host.py::test_hostname[None]",
               "test_config_host.py::test_sysctl_values_are_set_in_the_containers_namespaces"),
              "runsc's Sentry has a hostname and sysctls of its own: with no hostname the container does not "
              "see the host's, and linux.sysctl values are not what the container reads"),
    Deviation("D-RUNSC-PROC-STATUS", _RUNSC, ("LC-CFG-PROC-06", "LC-CFG-SEC-01", "LC-CFG-SEC-02",
                                              "LC-CFG-SEC-03"),
              ("test_config_process.py::test_umask_is_the_file_mode_creation_mask[*]",
               "test_config_security.py::test_capability_sets_of_a_root_process[*]",
               "test_config_security.py::test_default_capabilities_are_runcs_default_set[*]",
               "test_config_security.py::test_capability_sets_of_a_non_root_process_are_its_ambient_set[*]",
               "test_config_security.py::test_no_new_privileges_shows_in_status[*]"),
              "the Sentry's /proc/self/status has no Umask, CapAmb or NoNewPrivs line"),
    Deviation("D-RUNSC-SECCOMP", _RUNSC, ("LC-CFG-SEC-04", "LC-CFG-SEC-05"),
              ("test_config_security.py::test_seccomp_rule_fails_the_syscall_with_the_configured_errno[*]",
               "test_config_security.py::test_seccomp_rule_action_kill_process[*]",
               "test_config_security.py::test_seccomp_argument_condition_selects_the_calls[*]"),
              "runsc --oci-seccomp applies linux.seccomp inside the Sentry: /proc/self/status says Seccomp 0 "
              "and the rules' errno and kill actions are not what the process meets"),
    Deviation("D-RUNSC-PROCESS", _RUNSC, ("LC-CFG-PROC-07", "LC-CFG-PROC-08", "LC-CFG-PROC-09"),
              ("test_config_process.py::test_rlimits_show_in_proc_self_limits[*]",
               "test_config_process.py::test_stdio_are_the_given_descriptors_or_dev_null[*]",
               "test_config_process.py::test_terminal_is_a_pty_of_the_container_sent_to_the_console_socket[*]"),
              "the process runs on the Sentry: its /proc/self/limits, its stdio (host descriptors the Sentry "
              "shows as 'host:[N]', not /dev/null) and its terminal are the Sentry's"),
    Deviation("D-RUNSC-CGROUPS", _RUNSC, ("LC-CFG-RES-06", "LC-CFG-RES-07", "LC-CFG-RES-08", "LC-CFG-RES-10",
                                          "LC-CFG-RES-11", "LC-CFG-NOTSUP-01", "LC-CFG-STATS-02",
                                          "LC-CFG-STATS-04"),
              ("test_config_resources.py::test_cpuset_shows_in_cpus_and_mems_allowed_list",
               "test_config_resources.py::test_pids_limit_makes_fork_fail[2]",
               "test_config_resources.py::test_device_rules_make_open_fail_with_eperm",
               "test_config_resources.py::test_blkio_weight_is_the_cgroup_io_weight",
               "test_config_resources.py::test_hugetlb_limit_is_the_cgroup_hugetlb_limit",
               "test_config_resources.py::test_a_field_is_honoured_or_refused_by_name_leaving_nothing"
               "[blkio_weight]",
               "test_config_resources.py::test_a_field_is_honoured_or_refused_by_name_leaving_nothing"
               "[hugetlb_limits]",
               "test_config_resources.py::test_stats_cpu_usage_grows_with_work",
               "test_config_resources.py::test_stats_memory_limit_and_oom_counter"),
              "runsc puts the sandbox (its Sentry and gofer host processes), not the container's processes, in "
              "the cgroup: cpuset and blkio writes and a hugetlb limit fail create, a pids limit of 2 leaves "
              "the sandbox no room to start, the device cgroup does not reach the Sentry's /dev, and 'events "
              "--stats' reports the Sentry's own accounting (memory limit 0)"),
    Deviation("D-RUNSC-DEVICES", _RUNSC, ("LC-CFG-DEV-01", "LC-CFG-DEV-02"),
              ("test_config_devices.py::test_device_nodes_have_type_numbers_mode_and_owner",
               "test_config_devices.py::test_device_nodes_can_be_used"),
              "the Sentry's /dev serves only the devices gVisor implements: a config's device node is not made "
              "with its numbers, mode and owner, and /dev/zero there is not the host's zero device"),
    Deviation("D-RUNSC-MOUNTS", _RUNSC, ("LC-CFG-FS-01", "LC-CFG-FS-03", "LC-CFG-FS-04", "LC-CFG-FS-05",
                                         "LC-CFG-FS-06", "LC-CFG-FS-07"),
              ("test_config_filesystem.py::test_rootfs_is_the_containers_root",
               "test_config_filesystem.py::test_bind_mount_flags_show_on_the_mount",
               "test_config_filesystem.py::test_tmpfs_mount_with_its_options",
               "test_config_filesystem.py::test_masked_paths_read_empty[*]",
               "test_config_filesystem.py::test_readonly_paths_refuse_writes[*]",
               "test_config_filesystem.py::test_rootfs_propagation[*]"),
              "the Sentry serves the rootfs and bind mounts over 9p from its gofer: / is a 9p mount, not the "
              "host's files (other inodes), mount flags and tmpfs options show as the Sentry's, /proc/sys is "
              "never writable, masked paths are not the config's, rootfsPropagation 'shared' and "
              "'unbindable' are refused, and host mounts never propagate into the sandbox"),
    Deviation("D-RUNSC-HOSTILE", _RUNSC, ("LC-HOST-01", "LC-HOST-02"),
              ("test_hostile_rootfs.py::test_absolute_symlink_to_host_dir_mount_lands_inside",
               "test_hostile_rootfs.py::test_relative_symlink_climbing_out_is_stopped_at_the_root",
               "test_hostile_rootfs.py::test_device_node_through_symlink_lands_inside",
               "test_hostile_rootfs.py::test_masked_and_readonly_paths_through_symlinks"),
              "runsc resolves a mount destination through the image's symlinks inside the rootfs but does not "
              "make a missing target (create fails 'creating mount point ... failed'; safe, no container), "
              "and masked or read-only paths given through a symlink are neither masked nor read-only"),
    Deviation("D-RUNSC-WAIT", _RUNSC, ("LC-WAIT-06", "LC-FACTORY-04", "LC-WAIT-04"),
              ("test_concurrency.py::test_wait_blocked_during_destroy_returns_or_raises_destroyed[*]",
               "test_cross_process.py::test_status_survives_the_creating_process"),
              "the host process the adapter waits on is runsc's sandbox, not the container's init: killed by "
              "delete --force it exits with status 128 (not 128 + SIGKILL), and after the creating process "
              "exited a wait() from another process did not return"),
    Deviation("D-RUNSC-PAUSE-IDEMPOTENT", _RUNSC, ("LC-PAUSE-04",),
              ("test_concurrency.py::test_racing_pauses_all_succeed_and_end_paused",),
              "runsc refuses pause of a paused container ('cannot pause container in state paused'); racing "
              "pauses meet that unless the race orders them (not strict: timing decides)", strict=False),
    Deviation("D-RUNSC-PS-PIDS", _RUNSC, ("LC-GEN-01", "LC-FACTORY-04"),
              ("test_lifecycle.py::test_threads_share_one_container",
               "test_factory.py::test_load_from_another_process_sees_same_status"),
              "runsc's ps lists the Sentry's pids, not host pids: processes() raises NotSupported in the "
              "threads and in the other process, where the test sees a failure, not NotSupported"),
    Deviation("D-RUNSC-FAULTS", _RUNSC, ("LC-FAULT-02",),
              ("test_faults.py::test_creator_killed_during_create_leaves_an_id_that_works[*]",),
              "after a creator was killed during create, runsc's delete --force may leave its metadata and the "
              "id taken ('cannot lock container metadata file: container already exists'), or a paused "
              "sandbox whose delete panics; which kill points show it varied between runs (not strict)",
              strict=False),
    Deviation("D-RUNSC-FAULTS", _RUNSC, ("LC-FAULT-09", "LC-FAULT-12"),
              ("test_faults.py::test_long_id_and_its_hashed_name_do_not_collide",
               "test_faults_decisions.py::test_missing_cwd_is_made_for_init_and_refused_for_start_process"),
              "an id over 255 bytes fails runsc's state file name (ENAMETOOLONG); a cwd it cannot make is a "
              "generic 'Error setting up root FS'"),
    Deviation("D-RUNSC-FAULTS", _RUNSC, ("LC-FAULT-05",),
              ("test_faults.py::test_destroy_racing_stats_resume_processes",),
              "a destroy removes runsc's state file before the sandbox is gone: a racing stats() or resume() "
              "fails with 'loading container: open ...state: no such file or directory' (not strict: a race)",
              strict=False),
)


# the create/start split (issue 14; SPEC.md "The create/start split"): the adapter runs the runtime's own
# create and start (libcontainer.conformance.oci.split)
_CREATED_PAUSE = ("test_transitions.py::test_cell[CREATED-pause]", "test_transitions.py::test_cell[CREATED-resume]")
DEVIATIONS += (
    Deviation("D-PAUSE-CREATED", ("runc",), ("LC-CREATED-05",), _CREATED_PAUSE,
              "runc 1.1.5 freezes a created container ('state' says paused, and resume makes it created again) "
              "and refuses resume of a created one ('container not paused', SystemFailure)"),
    Deviation("D-PAUSE-CREATED", ("crun",), ("LC-CREATED-05",), _CREATED_PAUSE,
              "crun 1.8.1 freezes a created container while 'state' still says created, and resume of a created "
              "one exits 0: neither raises ContainerNotRunning"),
    Deviation("D-STATS-NONE", ("crun",), ("LC-CREATED-01",), ("test_transitions.py::test_cell[CREATED-stats]",),
              "crun 1.8.1 has no 'events' command: stats() raises NotSupported", raises=NotSupported),
    Deviation("D-RUNSC-CREATED", _RUNSC, ("LC-CREATED-08",),
              ("test_created.py::test_missing_program_is_refused_by_create",),
              "runsc's create does not look the program up: create(start=False) succeeds and start() fails "
              "('failed to load /no/such/program: no such file or directory')"),
)


def for_test(nodeid: str, runtime: str, extra: tuple = ()) -> list[Deviation]:
    """The deviations of ``runtime`` (this table and ``extra``, from :func:`load_file`) that ``nodeid`` shows
    on this host (an entry with a ``shows`` check counts only where the check is True)."""
    return [d for d in (*DEVIATIONS, *extra)
            if runtime in d.runtimes and d.matches(nodeid) and (d.shows is None or d.shows())]


class DeviationFileError(ValueError):
    """A deviations file that cannot be used; the message names the file, the entry and the field."""


def _raises(name: str, where: str) -> type:
    import importlib

    import libcontainer.spec as spec
    module, sep, attr = name.rpartition(":") if ":" in name else ("", "", name)
    obj = getattr(importlib.import_module(module), attr, None) if sep else getattr(spec, attr, None)
    if not (isinstance(obj, type) and issubclass(obj, BaseException)):
        raise DeviationFileError(f"{where}: raises {name!r} is not an exception class (a libcontainer.spec error "
                                 "name or module:Class)")
    return obj


def load_file(path: str, runtime: str) -> tuple[Deviation, ...]:
    """The ``[[deviation]]`` entries of the TOML file ``path``; ``runtimes`` defaults to ``[runtime]``.

    Raises DeviationFileError naming the field of a bad entry; the reference may not be named
    (its deviations are bugs to fix)."""
    import tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise DeviationFileError(f"deviations file {path}: {e}") from None
    entries = data.get("deviation", [])
    if not isinstance(entries, list):
        raise DeviationFileError(f"deviations file {path}: [[deviation]] must be an array of tables")
    out = []
    for i, e in enumerate(entries):
        where = f"deviations file {path}, entry {i + 1}"
        for name in ("key", "reason"):
            if not isinstance(e.get(name), str) or not e[name]:
                raise DeviationFileError(f"{where}: {name} must be a non-empty string")
        for name in ("clauses", "tests") + (("runtimes",) if "runtimes" in e else ()):
            if not isinstance(e.get(name), list) or not e[name] or not all(isinstance(x, str) for x in e[name]):
                raise DeviationFileError(f"{where}: {name} must be a non-empty list of strings")
        unknown = set(e) - {"key", "reason", "clauses", "tests", "runtimes", "strict", "raises"}
        if unknown:
            raise DeviationFileError(f"{where}: unknown fields {sorted(unknown)}")
        runtimes = tuple(e.get("runtimes", [runtime]))
        if "reference" in runtimes:
            raise DeviationFileError(f"{where}: runtimes names the reference; its deviations are bugs to fix")
        if not isinstance(e.get("strict", True), bool):
            raise DeviationFileError(f"{where}: strict must be true or false")
        raises = _raises(e["raises"], where) if e.get("raises") else None
        out.append(Deviation(e["key"], runtimes, tuple(e["clauses"]), tuple(e["tests"]), e["reason"], raises,
                             e.get("strict", True)))
    return tuple(out)


__all__ = ["Deviation", "DEVIATIONS", "DeviationFileError", "for_test", "load_file"]
