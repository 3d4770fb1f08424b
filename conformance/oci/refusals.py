"""A runtime's refusal of a config, told by its error text: what the validators of runc 1.1.5 and
crun 1.8.1 print when ``create`` refuses a ``config.json`` (runc's libcontainer ``configs/validate``
and ``specconv``, crun's ``libcrun`` checks). The adapter raises ConfigInvalid for these
(:func:`.container.is_config_error`), never SystemFailure: the runtime said the config is wrong.

Each pattern was measured here with a bundle that breaks one rule (Debian 12's runc and crun, as
root, crun with the hybrid host's cgroup2 controllers hidden as the adapter does):

- hostname without the uts namespace: runc "unable to set hostname without a private UTS
  namespace"; crun "hostname requires the UTS namespace".
- a ``net.*`` sysctl without the net namespace: runc "sysctl "net.ipv4.ip_forward" not allowed in
  host network namespace"; crun "the sysctl `net.ipv4.ip_forward` requires a new network namespace".
- a sysctl that is not namespaced: runc "sysctl "kernel.pid_max" is not in a separate kernel
  namespace"; crun "the sysctl `kernel.pid_max` is not namespaced".
- ``linux.resources.unified`` on cgroup v1: both "invalid configuration: cannot use unified on
  cgroup v1".
- an unknown seccomp action: runc "string SCMP_ACT_NOPE is not a valid action for seccomp"; crun
  "invalid seccomp action `SCMP_ACT_NOPE`".
- an unknown rlimit: runc "wrong rlimit value: RLIMIT_NOPE"; crun "invalid rlimit `RLIMIT_NOPE`".
- runc only (crun accepts these): a device type "x" ("invalid device type "x""), a swappiness of
  200 ("invalid memory swappiness value: 200 (valid range is 0-100)"), a namespace listed twice
  ("malformed spec file: duplicated ns {"pid" ""}").

runc logs a relative mount destination as a *warning* ``msg="invalid configuration"`` (no colon)
and goes on; that text alone is not a refusal.
"""

from __future__ import annotations

import re

_REFUSALS = re.compile("|".join((
    r"invalid configuration:",
    r"hostname without a private UTS namespace|hostname requires the UTS namespace",
    r"sysctl \S+ (not allowed in host|is not in a separate kernel namespace|requires a new|is not namespaced)",
    r"is not a valid action for seccomp|invalid seccomp action",
    r"wrong rlimit value|invalid rlimit",
    r"invalid device type",
    r"invalid memory swappiness value",
    r"malformed spec file",
)), re.I)


def refuses_config(message: str) -> bool:
    """True when a runtime's error text is its validator refusing the config (the table above)."""
    return bool(_REFUSALS.search(message))


__all__ = ["refuses_config"]
