"""The Vagrant backend: the same guest agent, in a VM that Vagrant brings up through python-vagrant.

* The box is built locally (``vm/box.sh``: debootstrap + the matrix's Debian kernel, libvirt provider, qcow2)
  and added with ``vagrant box add``; a user elsewhere can name a public box in ``matrix.toml`` instead.
* libvirtd is the project's own (``vm/libvirtd.sh``), inside the network namespace ``lcvm-libvirt``; vagrant
  runs there too (a wrapper in the cache puts it there), so nothing touches the host's network.
* ``vm/Vagrantfile`` is parametrised by ``LCVM_*`` variables (box, cgroup mode, direct kernel boot, 9p shares).
* In the guest, ``vagrant ssh`` runs ``sudo PYTHON -m libcontainer.vm.guest OUT`` (:mod:`libcontainer.vm.guest`,
  not PID 1 there, so it does not power off); the project and the report folder are shared over 9p at their
  host paths, and the Python of the project's .venv too unless it is the distribution's (:func:`python_share`).
* A run never outlives ``Request.timeout``: each vagrant call gets what is left (``timeout(1)``), then the VM is
  destroyed in any case.

Status: works as a smoke test (``python -m libcontainer.vm smoke``); see vm/README.md for what is measured.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import subprocess
import sys
import threading
import time

from . import kernel as kernel_mod
from .backend import Backend, EventSink, Request, Result

HERE = os.path.dirname(os.path.abspath(__file__))
NETNS = "lcvm-libvirt"


#: where a distribution installs its interpreter: the box has its own there (vm/box.sh installs python3)
SYSTEM_PREFIXES = ("/usr", "/")


def python_share(python: str) -> str | None:
    """The host folder to share with the guest so that ``python`` (the project's ``.venv/bin/python``) runs there:
    the installation prefix of the interpreter it links to (a pyenv or self-built Python), or None for the
    distribution's own (prefix ``/usr``): the box has that ``python3.X`` itself, and mounting the host's
    ``/usr`` over the guest's fails ``vagrant up`` at "Mounting 9p shared folders". The guest then runs its own
    ``python3.X`` over the shared ``.venv`` (its ``pyvenv.cfg`` names ``/usr/bin``), as the qemu backend's
    guests do (:mod:`libcontainer.vm.guestpython`)."""
    real = os.path.realpath(python)
    base = os.path.realpath(sys.base_prefix)
    prefix = base if real.startswith(base.rstrip("/") + "/") else os.path.dirname(os.path.dirname(real))
    return None if prefix in SYSTEM_PREFIXES else prefix


def box_recipe_digest() -> str:
    """SHA-256 of vm/box.sh: a box built by another version of it (another package set) is built again."""
    with open(os.path.join(HERE, "box.sh"), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class VagrantBackend(Backend):
    name = "vagrant"

    def __init__(self, project: str, cache: str | None = None, python: str | None = None, keep_libvirtd: bool = False):
        """``project``: the checkout shared into the guest; ``cache``: boxes, Vagrant's home and state (vm/.cache)."""
        self.project = os.path.abspath(project)
        self.cache = os.path.abspath(cache or kernel_mod.CACHE)
        self.python = python or os.path.join(self.project, ".venv", "bin", "python")
        self.keep_libvirtd = keep_libvirtd
        self.vagrant_home = os.path.join(self.cache, "vagrant.d")
        self.wrapper = os.path.join(self.cache, "bin", "vagrant")

    # -- set-up ---------------------------------------------------------------
    def _wrapper(self) -> None:
        os.makedirs(os.path.dirname(self.wrapper), exist_ok=True)
        with open(self.wrapper, "w") as f:
            f.write("#!/bin/sh\n# vagrant inside the libvirtd's network namespace, bounded by LCVM_CALL_TIMEOUT seconds\n"
                    f'exec timeout -k 10 "${{LCVM_CALL_TIMEOUT:-3600}}" ip netns exec {NETNS} /usr/bin/vagrant "$@"\n')
        os.chmod(self.wrapper, 0o755)

    def libvirtd(self, action: str) -> None:
        """``start`` or ``stop`` the project's libvirtd (vm/libvirtd.sh); raises RuntimeError if it fails."""
        r = subprocess.run([os.path.join(HERE, "libvirtd.sh"), action], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"libvirtd.sh {action} failed: {r.stderr.strip() or r.stdout.strip()}")

    def box_dir(self, vm) -> str:
        return os.path.join(self.cache, "boxes", vm.box.split("/")[-1])

    def _env(self, vm, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = dict(os.environ, VAGRANT_HOME=self.vagrant_home, VAGRANT_CHECKPOINT_DISABLE="1",
                   VAGRANT_DEFAULT_PROVIDER="libvirt",
                   VAGRANT_DOTFILE_PATH=os.path.join(self.cache, "vagrant", vm.name),
                   LCVM_BOX=vm.box, LCVM_CGROUP=vm.cgroup, LCVM_MEMORY=str(vm.memory_mb), LCVM_CPUS=str(vm.cpus))
        boot = self.box_dir(vm)
        if os.path.exists(os.path.join(boot, "vmlinuz")):
            env.update(LCVM_KERNEL=os.path.join(boot, "vmlinuz"), LCVM_INITRD=os.path.join(boot, "initrd.img"))
        env.update(extra or {})
        return env

    def _vagrant(self, vm, env_extra=None, log=None):
        import vagrant  # python-vagrant: the optional dependency [vm]

        def cm():
            return open(log, "ab") if log else open(os.devnull, "wb")
        v = vagrant.Vagrant(root=HERE, env=self._env(vm, env_extra), out_cm=cm, err_cm=cm)
        v._vagrant_exe = self.wrapper  # python-vagrant resolves `vagrant` on PATH; ours enters the namespace
        return v

    def prepare(self, vm) -> None:
        if not vm.box:
            raise RuntimeError(f"vm {vm.name} names no box in the matrix")
        self._wrapper()
        self.libvirtd("start")
        v = self._vagrant(vm)
        box_file = os.path.join(self.box_dir(vm), vm.box.split("/")[-1] + ".box")
        stamp = os.path.join(self.box_dir(vm), "box.sh.sha256")
        current = box_recipe_digest()
        built = open(stamp).read().strip() if os.path.exists(stamp) else None
        if built == current and any(b.name == vm.box for b in v.box_list()):
            return
        if built != current and os.path.exists(box_file):  # built by another vm/box.sh: build it again
            os.unlink(box_file)
        if not os.path.exists(box_file):
            k = kernel_mod.fetch(vm.package, self.cache)
            debs = glob.glob(os.path.join(self.cache, "debs", f"{kernel_mod.resolve_package(vm.package)}_*.deb"))
            if not debs:
                raise RuntimeError(f"no .deb of {k.package} in {self.cache}/debs")
            r = subprocess.run([os.path.join(HERE, "box.sh"), vm.box, debs[0], self.box_dir(vm)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError(f"box.sh failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        self._drop_stale_volumes(vm.box)
        v.box_add(vm.box, box_file, provider="libvirt", force=True)
        with open(stamp, "w") as f:
            f.write(current + "\n")

    @staticmethod
    def _drop_stale_volumes(box: str) -> None:
        """Delete the libvirt pool volumes vagrant-libvirt made from an earlier build of ``box`` (it names them
        ``<box, / as -VAGRANTSLASH->_vagrant_box_image_<version>_<mtime>_box.img``)."""
        virsh = ["virsh", "-c", "qemu:///system"]
        subprocess.run(virsh + ["pool-start", "default"], capture_output=True)  # defined by vagrant-libvirt, not autostarted
        subprocess.run(virsh + ["pool-refresh", "default"], capture_output=True)  # volumes uploaded by an earlier libvirtd
        listed = subprocess.run(virsh + ["vol-list", "default"], capture_output=True, text=True)
        prefix = box.replace("/", "-VAGRANTSLASH-") + "_vagrant_box_image_"
        for name in (line.split()[0] for line in listed.stdout.splitlines() if line.strip()):
            if name.startswith(prefix):
                subprocess.run(virsh + ["vol-delete", name, "--pool", "default"], capture_output=True)

    # -- run -----------------------------------------------------------------
    def sync_folders(self) -> str:
        """``LCVM_SYNC``: the project and, unless the box has it (:func:`python_share`), the .venv's interpreter."""
        share = python_share(self.python)
        return ":".join(dict.fromkeys([self.project] + ([share] if share else [])))

    def run(self, vm, request: Request, on_event: EventSink | None = None) -> Result:
        t0 = time.monotonic()
        out = os.path.abspath(request.out)
        os.makedirs(out, exist_ok=True)
        for stale in ("progress", "exit.json", "console.log", "vagrant.log"):
            if os.path.exists(os.path.join(out, stale)):
                os.unlink(os.path.join(out, stale))
        with open(os.path.join(out, "request.json"), "w") as f:
            json.dump({"argv": request.argv, "cwd": request.cwd, "env": request.env}, f)
        console, log = os.path.join(out, "console.log"), os.path.join(out, "vagrant.log")
        extra = {"LCVM_SYNC": self.sync_folders(), "LCVM_SYNC_LIVE": out, "LCVM_CONSOLE": console,
                 "LCVM_BOOT_TIMEOUT": str(int(request.timeout))}
        v = self._vagrant(vm, extra, log)
        deadline = t0 + request.timeout
        marks: dict[str, float] = {}
        state = {"error": None, "phase": "up"}

        def steps():
            try:
                v.env["LCVM_CALL_TIMEOUT"] = str(max(1, int(deadline - time.monotonic())))
                v.up(provider="libvirt")
                marks["up"] = time.monotonic() - t0
                state["phase"] = "ssh"
                v.env["LCVM_CALL_TIMEOUT"] = str(max(1, int(deadline - time.monotonic())))
                v._call_vagrant_command(["ssh", None, "--command",
                                         f"sudo {self.python} -m libcontainer.vm.guest {out}"])
            except subprocess.CalledProcessError as e:
                state["error"] = f"vagrant {state['phase']} failed (status {e.returncode}, see {log})" \
                    if e.returncode != 124 else f"timeout: vagrant {state['phase']} killed after {request.timeout:.0f} s"
            except Exception as e:  # noqa: BLE001 - reported as the VM's failure
                state["error"] = f"vagrant {state['phase']}: {e!r}"

        worker = threading.Thread(target=steps, daemon=True)
        worker.start()
        seen = 0
        while worker.is_alive():
            worker.join(0.5)
            lines, seen = self.read_events(out, seen)
            for line in lines:
                marks.setdefault(line.split(" ", 2)[1] if " " in line else line, time.monotonic() - t0)
                if on_event:
                    on_event(vm.name, line)
            if time.monotonic() > deadline + 30:  # timeout(1) kills vagrant at the deadline; this is the backstop
                state["error"] = f"timeout: vagrant {state['phase']} did not return after {request.timeout:.0f} s"
                break
        lines, seen = self.read_events(out, seen)
        for line in lines:
            marks.setdefault(line.split(" ", 2)[1], time.monotonic() - t0)
            if on_event:
                on_event(vm.name, line)
        self.destroy(vm, log)
        total = time.monotonic() - t0
        status = None
        try:
            with open(os.path.join(out, "exit.json")) as f:
                status = json.load(f)["status"]
        except (FileNotFoundError, ValueError, KeyError):
            state["error"] = state["error"] or "the guest agent wrote no exit status"
        t = {"total": round(total, 1)}
        if "up" in marks:
            t["boot"] = round(marks["up"], 1)  # vagrant up: define, boot, ssh ready, 9p mounts
            collected = marks.get("collected", marks.get("exit", total))
            t["setup"] = round(collected - marks["up"], 1)
            if "collected" in marks:
                t["tests"] = round(marks.get("finished", marks.get("exit", total)) - collected, 1)
            t["shutdown"] = round(total - marks.get("finished", marks.get("exit", total)), 1)  # vagrant destroy
        return Result(vm.name, status, state["error"], console, out, t)

    def destroy(self, vm, log: str | None = None) -> None:
        """``vagrant destroy -f`` (bounded to 300 s)."""
        v = self._vagrant(vm, {"LCVM_CALL_TIMEOUT": "300"}, log)
        try:
            v.destroy()
        except subprocess.CalledProcessError:
            pass

    def close(self) -> None:
        """Stop the project's libvirtd and remove its network namespace (unless ``keep_libvirtd``)."""
        if not self.keep_libvirtd:
            self.libvirtd("stop")
