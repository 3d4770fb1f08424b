"""The guest agent: PID 1 of a matrix VM after ``init.sh`` has switched root.

``python -m libcontainer.vm.guest OUT`` reads ``OUT/request.json``
(``{"argv": [...], "cwd": str, "env": {...}}``), runs the command as its
child with the console as stdio, reaps every process reparented to it (the
guest's init must, see wait(2) and PR_SET_CHILD_SUBREAPER in prctl(2)),
writes ``OUT/exit.json`` (``{"status": int}`` with the shell's 128+signal
convention, plus guest uptimes in seconds) once the command exits, kills what
is left, syncs and powers the VM off (reboot(2) ``RB_POWER_OFF``).
Events go to ``OUT/progress`` as lines ``<uptime> <event> ...``.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import sys
import time

RB_POWER_OFF = 0x4321FEDC


def uptime() -> float:
    with open("/proc/uptime") as f:
        return float(f.read().split()[0])


def event(out: str, text: str) -> None:
    with open(os.path.join(out, "progress"), "a") as f:
        f.write(f"{uptime():.2f} {text}\n")


def power_off() -> None:
    os.sync()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.reboot(RB_POWER_OFF)
    os._exit(1)  # only if reboot(2) failed: PID 1 exiting panics the kernel, and qemu -no-reboot stops


def run(out: str) -> int:
    with open(os.path.join(out, "request.json")) as f:
        req = json.load(f)
    env = dict(req.get("env", {}))
    env.setdefault("HOME", "/root")
    env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
    if not os.path.ismount("/root"):
        env["HOME"] = "/tmp"  # /root stayed read-only (no overlay)
    started = uptime()
    event(out, f"agent {os.uname().release}")
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            os.chdir(req.get("cwd", "/"))
            os.execvpe(req["argv"][0], req["argv"], env)
        except BaseException as e:  # noqa: BLE001 - report any exec failure as exit 127
            print(f"lcvm-guest: cannot run {req['argv']}: {e}", file=sys.stderr, flush=True)
        os._exit(127)
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            status = 127 << 8
            break
        except InterruptedError:
            continue
        if got == pid:
            break
    code = os.waitstatus_to_exitcode(status)
    code = 128 - code if code < 0 else code
    ended = uptime()
    with open(os.path.join(out, "exit.json.part"), "w") as f:
        json.dump({"status": code, "agent_start": started, "command_end": ended}, f)
    os.rename(os.path.join(out, "exit.json.part"), os.path.join(out, "exit.json"))
    event(out, f"exit {code}")
    return code


def main(argv: list[str]) -> None:
    out = argv[1]
    try:
        code = run(out)
        print(f"lcvm-guest: command exited with status {code}", flush=True)
    except BaseException as e:  # noqa: BLE001 - PID 1 must power off whatever happens
        print(f"lcvm-guest: agent failed: {e!r}", flush=True)
    if os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            time.sleep(0.05)
        power_off()


if __name__ == "__main__":
    main(sys.argv)
