"""Known deviations of peer runtimes (runc, crun) from SPEC.md, by test.

The specification's tests stay runtime-neutral: they name no runtime. This
table says which of them a peer runtime is known to fail, and why; the
plugin turns each entry into a strict ``xfail`` only under ``--runtime``
naming that runtime (see :mod:`libcontainer.conformance.plugin`). Each
entry is explained, with the observed behaviour and the runtime's version,
in SPEC.md's "Deviations of peer runtimes" under the same key (``D-...``).
The reference never appears here: its deviations are bugs to fix.

``tests`` are patterns matched against the end of a test's node id, ``*``
matching any text (``test_transitions.py::test_cell[PAUSED-pause]``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from libcontainer.spec import NotSupported


@dataclass(frozen=True)
class Deviation:
    key: str               # the entry in SPEC.md's "Deviations of peer runtimes"
    runtimes: tuple        # runtime names (--runtime) that deviate
    clauses: tuple         # the SPEC.md clauses broken
    tests: tuple           # node id tails, * as wildcard
    reason: str
    raises: type | None = None
    strict: bool = True    # False only where a race decides whether the deviation shows in one run

    def matches(self, nodeid: str) -> bool:
        return any(_pattern(t).search(nodeid) for t in self.tests)


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
    Deviation("D-PAUSE-FREEZING", ("crun",), ("LC-PAUSE-01", "LC-PROCS-03"),
              ("test_lifecycle.py::test_paused_pids_are_all_live_while_processes_churn",
               "test_factory.py::test_ids_that_name_host_files_are_ordinary_ids[x.]"),
              "crun 1.8.1 'pause' returns while the v1 freezer is still FREEZING and 'state' then says running; "
              "a cgroup whose processes fork fast shows it (not strict: timing decides)", strict=False),
    Deviation("D-ID-LONG", ("runc", "crun"), ("LC-ID-01",),
              ("test_factory.py::test_valid_ids_are_accepted[good2]",),
              "the runtime names its state directory by the id: an id over 255 bytes fails with ENAMETOOLONG"),
    Deviation("D-ID-DOT", ("crun",), ("LC-ID-01",),
              ("test_factory.py::test_valid_ids_are_accepted[...]",
               "test_factory.py::test_ids_that_name_host_files_are_ordinary_ids[.x]"),
              "crun 1.8.1 names the session keyring after the id; the kernel refuses keyring names that "
              "start with '.' (EPERM)"),
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


def for_test(nodeid: str, runtime: str) -> list[Deviation]:
    """The deviations of ``runtime`` that the test ``nodeid`` is known to show."""
    return [d for d in DEVIATIONS if runtime in d.runtimes and d.matches(nodeid)]


__all__ = ["Deviation", "DEVIATIONS", "for_test"]
