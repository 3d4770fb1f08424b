"""The direct qemu backend: a Debian kernel booted under TCG with the host's root over virtio-9p.

No disk image: the host's ``/`` is shared read-only (tag ``lcvmroot``), the
project and the output folder read-write at their host paths (``lcvmproj``,
``lcvmout``), and :mod:`libcontainer.vm.initramfs`'s ``init.sh`` mounts
them and starts :mod:`libcontainer.vm.guest` as PID 1. Software emulation
(``-accel tcg,thread=multi -cpu qemu64``: the guest kernel's system calls run 2-4x faster
than under ``-cpu max``, measured in vm/README.md): KVM does not work on this machine kind.
The serial console (``-serial stdio``) goes to ``OUT/console.log``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time

from libcontainer.plumbing import linux

from . import guestpython, initramfs, kernel as kernel_mod
from .backend import Backend, EventSink, Request, Result

QEMU = "qemu-system-x86_64"
CPU = "qemu64"
#: extra kernel arguments of every guest (LCVM_KERNEL_ARGS overrides)
KERNEL_ARGS = os.environ.get("LCVM_KERNEL_ARGS", "")


def _die_with_parent() -> None:
    linux.prctl(linux.PR_SET_PDEATHSIG, signal.SIGKILL)


class QemuBackend(Backend):
    """Boots each VM with ``qemu-system-x86_64``; ``project`` is the folder shared read-write (the checkout)."""

    name = "qemu"

    def __init__(self, project: str, cache: str | None = None, qemu: str | None = None, python: str | None = None,
                 accel: str = "tcg,thread=multi", cpu: str | None = None, kernel_args: str | None = None):
        self.project = os.path.abspath(project)
        self.cache = cache or kernel_mod.SHARED_CACHE
        self.qemu = qemu or os.environ.get("LCVM_QEMU", QEMU)  # LCVM_QEMU: another qemu binary or a wrapper
        self.venv_python = python or os.path.join(self.project, ".venv", "bin", "python")
        self._guest_python: str | None = None
        self._guest_python_lock = threading.Lock()  # VMs run in threads: make the environment once
        self.accel = accel
        self.cpu = cpu or os.environ.get("LCVM_QEMU_CPU", CPU)
        self.kernel_args = KERNEL_ARGS if kernel_args is None else kernel_args
        self._prepared: dict[str, tuple[kernel_mod.Kernel, str]] = {}
        self._stop = threading.Event()  # set by close(): every running VM is killed (SIGTERM, Ctrl-C)

    def prepare(self, vm) -> None:
        if shutil.which(self.qemu) is None:
            raise RuntimeError(f"{self.qemu} not found: apt-get install qemu-system-x86 (vm/setup.sh does)")
        if vm.name not in self._prepared:
            k = kernel_mod.fetch(vm.package, self.cache)
            self._prepared[vm.name] = (k, initramfs.build(k, self.cache))

    @property
    def python(self) -> str:
        """The guest agent's interpreter: :func:`guest_python` of the project's."""
        return self.guest_python(self.venv_python)

    def guest_python(self, python: str) -> str:
        """Debian's optimised interpreter over the project's packages (:mod:`libcontainer.vm.guestpython`)."""
        with self._guest_python_lock:
            if python != self.venv_python:
                return guestpython.make(python, self.project)
            if self._guest_python is None:
                self._guest_python = guestpython.make(python, self.project)
            return self._guest_python

    def close(self) -> None:
        """Kill every VM this backend is running (their threads return a failed Result)."""
        self._stop.set()

    def command(self, vm, request: Request) -> list[str]:
        """The qemu command line for ``vm`` running ``request`` (prepare() first)."""
        k, initrd = self._prepared[vm.name]
        for path in (self.project, request.out, k.modules, self.python):
            if any(c in path for c in " ,\t\n"):
                raise ValueError(f"path {path!r} has a space or comma: qemu and the kernel command line cannot take it")
        append = " ".join([
            # no_timer_check: on a loaded host the emulated guest misses the boot-time timer IRQ check and
            # panics ("IO-APIC + timer doesn't work"), seen in a matrix run at load average 14
            "console=ttyS0", "panic=-1", "quiet", "loglevel=4", "rdinit=/init", "no_timer_check", self.kernel_args,
            f"lcvm.name={vm.name}", f"lcvm.cgroup={vm.cgroup}", f"lcvm.out={request.out}",
            f"lcvm.project={self.project}", f"lcvm.python={self.python}", f"lcvm.modules={k.modules}",
            vm.cmdline]).strip()
        share = "security_model=passthrough"
        return [self.qemu, "-nodefaults", "-no-user-config", "-machine", "q35", "-accel", self.accel,
                "-cpu", self.cpu, "-smp", str(vm.cpus), "-m", str(vm.memory_mb),
                "-kernel", k.vmlinuz, "-initrd", initrd, "-append", append,
                "-no-reboot", "-display", "none", "-monitor", "none", "-serial", "stdio",
                "-virtfs", f"local,path=/,mount_tag=lcvmroot,{share},readonly=on,multidevs=remap",
                "-virtfs", f"local,path={self.project},mount_tag=lcvmproj,{share},multidevs=remap",
                "-virtfs", f"local,path={request.out},mount_tag=lcvmout,{share}",
                "-device", "virtio-rng-pci"]

    #: how many times a guest whose kernel crashed before its command ended is booted again (TCG flake, see README)
    retries = 1

    def run(self, vm, request: Request, on_event: EventSink | None = None) -> Result:
        """Boot ``vm`` and run ``request``; a guest kernel crash (Oops/panic on the console, no exit status) is
        retried ``retries`` times, the crashed console kept as ``console-crash-N.log`` and named in the error."""
        crashes: list[str] = []
        while True:
            result = self._run_once(vm, request, on_event)
            if result.status is not None or result.error.startswith(("timeout", "stopped")) \
                    or len(crashes) >= self.retries \
                    or not kernel_crashed(result.console):
                break
            kept = os.path.join(result.out, f"console-crash-{len(crashes) + 1}.log")
            os.replace(result.console, kept)
            crashes.append(kept)
            if on_event:
                on_event(vm.name, f"0 crash the guest kernel crashed ({kept}); booting again")
        if crashes:
            result.timings["crashed_boots"] = len(crashes)
        return result

    def _run_once(self, vm, request: Request, on_event: EventSink | None = None) -> Result:
        self.prepare(vm)
        out = os.path.abspath(request.out)
        os.makedirs(out, exist_ok=True)
        for stale in ("progress", "exit.json", "init-failed", "console.log"):
            if os.path.exists(os.path.join(out, stale)):
                os.unlink(os.path.join(out, stale))
        with open(os.path.join(out, "request.json"), "w") as f:
            json.dump({"argv": request.argv, "cwd": request.cwd, "env": request.env}, f)
        console = os.path.join(out, "console.log")
        cmd = self.command(vm, request)
        with open(os.path.join(out, "qemu-command"), "w") as f:
            f.write(" ".join(cmd) + "\n")
        t0 = time.monotonic()
        marks: dict[str, float] = {}
        seen, error, cpu = 0, None, 0.0
        with open(console, "wb") as con:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=con, stderr=subprocess.STDOUT,
                                    preexec_fn=_die_with_parent)
            try:
                while True:
                    done = proc.poll() is not None
                    lines, seen = self.read_events(out, seen)
                    now = time.monotonic() - t0
                    for line in lines:
                        ev = line.split(" ", 2)[1] if " " in line else line
                        marks.setdefault(ev, now)
                        if on_event:
                            on_event(vm.name, line)
                    if done:
                        break
                    cpu = cpu_seconds(proc.pid, cpu)
                    if self._stop.is_set():
                        error = "stopped: the matrix run was interrupted"
                        break
                    if now > request.timeout:
                        error = f"timeout: killed after {request.timeout:.0f} s"
                        proc.kill()
                        proc.wait()
                        break
                    self._stop.wait(0.5)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        total = time.monotonic() - t0
        status = None
        try:
            with open(os.path.join(out, "exit.json")) as f:
                status = json.load(f)["status"]
        except (FileNotFoundError, ValueError, KeyError):
            if error is None:
                why = ""
                if os.path.exists(os.path.join(out, "init-failed")):
                    why = ": " + open(os.path.join(out, "init-failed")).read().strip()
                if kernel_crashed(console):
                    why += ": the guest kernel crashed (Oops or panic on its console)"
                error = f"the guest stopped without an exit status (qemu exit {proc.returncode}){why}"
        result = Result(vm.name, status, error, console, out, timings(marks, total))
        result.timings["qemu_cpu"] = round(cpu, 1)
        return result


def cpu_seconds(pid: int, last: float) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used, or ``last`` when it cannot be read: what
    the guest would take on an idle host core, the same whatever else loads the host (proc(5), /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return last
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def kernel_crashed(console: str) -> bool:
    """Whether the guest's console shows a kernel Oops or panic."""
    try:
        with open(console, errors="replace") as f:
            text = f.read()
    except FileNotFoundError:
        return False
    return "Kernel panic" in text or "Oops:" in text or "BUG:" in text


def timings(marks: dict[str, float], total: float) -> dict[str, float]:
    """Split ``total`` seconds by the first host-side sighting of guest events: boot (until the agent runs),
    setup (until the suite's tests are collected), tests (until the suite finished), shutdown (the rest)."""
    t: dict[str, float] = {"total": round(total, 1)}
    agent = marks.get("agent")
    if agent is not None:
        t["boot"] = round(agent, 1)
        collected = marks.get("collected", marks.get("exit", total))
        t["setup"] = round(collected - agent, 1)
        if "collected" in marks:
            t["tests"] = round(marks.get("finished", marks.get("exit", total)) - collected, 1)
        t["shutdown"] = round(total - marks.get("finished", marks.get("exit", total)), 1)
    return t
