"""An OCI runtime's command line (runc, crun, runsc, any other): argv building, running, error text.

Commands and options follow runc(8) / crun(1) of Debian 12 (runc 1.1.5,
crun 1.8.1): global ``--root DIR``, ``--log`` and ``--log-format json``;
``create --bundle B --pid-file F ID``, ``start``, ``state``, ``ps --format
json``, ``pause``, ``resume``, ``kill ID SIG``, ``events --stats`` (runc
only), ``exec --detach --pid-file F --process P.json ID``, ``delete
--force``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

UNIFIED_CONTROLLERS = "/sys/fs/cgroup/unified/cgroup.controllers"
_LOGRUS_MSG = re.compile(r'msg="((?:[^"\\]|\\.)*)"')


class CliError(Exception):
    """A runtime command exited non-zero; ``message`` is its error text."""

    def __init__(self, argv: list[str], rc: int, message: str):
        self.argv, self.rc, self.message = argv, rc, message
        super().__init__(f"{' '.join(argv[:4])}... exited {rc}: {message}")


@dataclass
class Runtime:
    """One OCI runtime binary with its global ``flags`` and its state ``root``.

    ``has_events``: the runtime has ``events --stats`` (crun 1.8.1 has not).
    ``refuses_hybrid``: the runtime refuses a hybrid cgroup host whose
    unified hierarchy lists controllers (crun), so ``create`` and ``exec``
    run in a private mount namespace that hides the list. ``log_prefix``:
    what ``--log`` wants before the file name (crun: ``file:``). ``host_pids``:
    ``ps`` lists host pids (runsc lists its sandbox kernel's own). These come
    from :func:`.features.probe`; ``probed`` is its one-line summary.
    """

    name: str
    binary: str
    root: str
    has_events: bool = True
    refuses_hybrid: bool = False
    flags: tuple = ()
    log_prefix: str = ""
    host_pids: bool = True
    probed: str = ""

    def version(self) -> str:
        if self.probed:
            return self.probed
        out = subprocess.run([self.binary, *self.flags, "--version"], capture_output=True, text=True,
                             check=False).stdout
        return out.splitlines()[0] if out else "unknown"

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        argv = [self.binary, *self.flags, "--root", self.root]
        if log:
            argv += ["--log", f"{self.log_prefix}{log}", "--log-format", "json"]
        return argv + list(args)

    def hide_unified_controllers(self) -> bool:
        """True when this host needs the crun work-around (a hybrid host whose cgroup2 lists controllers)."""
        if not self.refuses_hybrid:
            return False
        try:
            with open(UNIFIED_CONTROLLERS) as f:
                return bool(f.read().strip())
        except OSError:
            return False

    def run(self, *args: str, timeout: float = 60.0) -> str:
        """Run a command that does not hand stdio to a container; return stdout or raise CliError."""
        argv = self.argv(*args)
        try:
            out = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=timeout, check=False)
        except subprocess.TimeoutExpired as e:
            raise CliError(argv, -1, f"timed out after {timeout}s") from e
        if out.returncode != 0:
            raise CliError(argv, out.returncode, error_text(out.stderr) or exit_text(out.returncode))
        return out.stdout

    def run_json(self, *args: str):
        return json.loads(self.run(*args))


def exit_text(rc: int) -> str:
    """``rc`` as words: a negative return code is the signal that killed the runtime."""
    if rc < 0:
        return f"crashed: killed by signal {-rc}"
    return f"exited with status {rc} and printed no error"


def error_text(text: str) -> str:
    """The error messages in a runtime's stderr or JSON log, joined (logrus ``msg="..."`` unwrapped)."""
    msgs = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                entry = json.loads(line)
            except ValueError:
                entry = None
            if isinstance(entry, dict):
                if entry.get("level") in ("error", "fatal", "warning", None) and entry.get("msg"):
                    msgs.append(str(entry["msg"]))
                continue
        m = _LOGRUS_MSG.search(line)
        msgs.append(m.group(1).replace('\\"', '"') if m else line)
    return "; ".join(msgs)


def read_log(path: str) -> str:
    try:
        with open(path) as f:
            return error_text(f.read())
    except FileNotFoundError:
        return ""


def find(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name} is not installed (apt-get install {name})")
    return os.path.realpath(path)
