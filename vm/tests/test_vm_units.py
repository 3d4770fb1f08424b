"""Unit tests of the kernel matrix: the matrix file, the initramfs, qemu's command line, timeouts, progress.

None of them boots a kernel (the matrix itself does, ``python -m libcontainer.vm run``); the timeout test
runs a stand-in for qemu that never ends.
"""

import gzip
import json
import os
import stat
import sys
import textwrap
import time

import pytest

from libcontainer.vm import backend, initramfs, kernel, matrix, qemu, runner
from libcontainer.vm.backend import Request


def test_the_matrix_has_a_v1_and_a_v2_vm():
    vms = matrix.load()
    assert {v.cgroup for v in matrix.select(vms, [])} == {"v1", "v2"}
    v2 = [v for v in vms if v.cgroup == "v2"]
    assert all("cgroup_no_v1=all" in v.cmdline for v in v2)
    assert all(v.suite and v.timeout_s > 0 for v in vms)


def _write(tmp_path, text):
    p = tmp_path / "m.toml"
    p.write_text(textwrap.dedent(text))
    return str(p)


def test_matrix_rejects_unknown_keys_modes_and_duplicates(tmp_path):
    with pytest.raises(ValueError, match="unknown key"):
        matrix.load(_write(tmp_path, '[[vm]]\nname="a"\npackage="p"\ncgroup="v1"\ncolour="red"\n'))
    with pytest.raises(ValueError, match="cgroup must be"):
        matrix.load(_write(tmp_path, '[[vm]]\nname="a"\npackage="p"\ncgroup="v3"\n'))
    with pytest.raises(ValueError, match="duplicate"):
        matrix.load(_write(tmp_path, '[[vm]]\nname="a"\npackage="p"\ncgroup="v1"\n[[vm]]\nname="a"\npackage="p"\ncgroup="v2"\n'))


def test_select_defaults_to_enabled_and_rejects_unknown_names(tmp_path):
    vms = matrix.load(_write(tmp_path, '[defaults]\ntimeout_s=5\n[[vm]]\nname="a"\npackage="p"\ncgroup="v1"\n'
                                       '[[vm]]\nname="b"\npackage="p"\ncgroup="v2"\nenabled=false\n'))
    assert [v.name for v in matrix.select(vms, [])] == ["a"]
    assert [v.name for v in matrix.select(vms, ["b"])] == ["b"]
    assert vms[0].timeout_s == 5
    with pytest.raises(ValueError):
        matrix.select(vms, ["zz"])


def _cpio_entries(data: bytes) -> dict[str, tuple[int, bytes]]:
    raw, entries, pos = gzip.decompress(data), {}, 0
    while True:
        hdr = raw[pos:pos + 110]
        assert hdr[:6] == b"070701"
        fields = [int(hdr[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name = raw[pos + 110:pos + 110 + namesize - 1].decode()
        pos += 110 + namesize
        pos += -pos % 4
        body = raw[pos:pos + size]
        pos += size + (-size % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, body)


def _fake_kernel(tmp_path) -> kernel.Kernel:
    """A kernel tree whose modules are tiny files with modinfo strings: 9p needs 9pnet and netfs."""
    rel = "9.9.9-test"
    mods = tmp_path / "lib" / "modules" / rel
    (mods / "kernel").mkdir(parents=True)
    for name, deps in {"virtio_pci": "", "9pnet": "", "netfs": "", "9pnet_virtio": "9pnet",
                       "9p": "9pnet,netfs", "overlay": "", "veth": "", "unused": ""}.items():
        (mods / "kernel" / f"{name}.ko").write_bytes(b"\x7fELF\0name=" + name.encode() + b"\0depends=" + deps.encode() + b"\0")
    (mods / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot" / f"vmlinuz-{rel}").write_bytes(b"bz")
    (tmp_path / "boot" / f"config-{rel}").write_text("CONFIG_9P_FS=m\n")
    return kernel.load("linux-image-test", str(tmp_path))


def test_modules_come_dependencies_first_and_skip_builtins(tmp_path):
    k = _fake_kernel(tmp_path)
    names = [n for n, _ in initramfs.resolve_modules(k)]
    assert "virtio_pci" not in names and "unused" not in names
    assert names.index("9pnet") < names.index("9pnet_virtio") and names.index("netfs") < names.index("9p")
    assert kernel.config_has(k, "9P_FS") == "m" and kernel.config_has(k, "NOPE") is None


def test_a_missing_module_is_named(tmp_path):
    k = _fake_kernel(tmp_path)
    with pytest.raises(LookupError, match="no module nope"):
        initramfs.resolve_modules(k, wanted=("nope",))


def test_initramfs_holds_busybox_init_and_modules(tmp_path):
    k = _fake_kernel(tmp_path)
    busybox = tmp_path / "busybox"
    busybox.write_bytes(b"\x7fELF busybox")
    entries = _cpio_entries(initramfs.build_bytes(k, str(busybox)))
    assert stat.S_ISREG(entries["init"][0]) and entries["init"][0] & 0o111
    assert entries["init"][1].startswith(b"#!/bin/sh")
    assert entries["bin/busybox"][1] == b"\x7fELF busybox"
    assert stat.S_ISLNK(entries["bin/sh"][0]) and entries["bin/sh"][1] == b"busybox"
    assert stat.S_ISCHR(entries["dev/console"][0])
    order = entries["modules"][1].decode().split()
    assert order[-2:] == ["overlay", "veth"] and all(f"mod/{m}.ko" in entries for m in order)
    path = initramfs.build(k, str(tmp_path / "cache"), str(busybox))
    assert path == initramfs.build(k, str(tmp_path / "cache"), str(busybox))  # cached by content


def _vm(**kw):
    base = dict(name="t-v2", package="linux-image-test", cgroup="v2", cmdline="cgroup_no_v1=all", timeout_s=30)
    return matrix.VMSpec(**{**base, **kw})


def _backend(tmp_path, qemu_bin="qemu-system-x86_64"):
    be = qemu.QemuBackend(project=str(tmp_path), cache=str(tmp_path / "cache"), qemu=qemu_bin)
    k = _fake_kernel(tmp_path / "k")
    be._prepared["t-v2"] = (k, str(tmp_path / "initrd"))
    return be, k


def test_qemu_command_line(tmp_path):
    be, k = _backend(tmp_path)
    cmd = be.command(_vm(), Request(argv=["true"], cwd="/", out=str(tmp_path / "out")))
    line = " ".join(cmd)
    assert "-accel tcg,thread=multi" in line and "-cpu qemu64" in line and "-no-reboot" in line
    append = cmd[cmd.index("-append") + 1]
    assert "cgroup_no_v1=all" in append and "lcvm.cgroup=v2" in append and "panic=-1" in append
    assert "no_timer_check" in append.split()  # a loaded host makes the emulated timer check fail
    assert f"lcvm.out={tmp_path / 'out'}" in append and f"lcvm.modules={k.modules}" in append
    assert any("path=/,mount_tag=lcvmroot" in a and "readonly=on" in a for a in cmd)
    assert any(f"path={tmp_path},mount_tag=lcvmproj" in a and "readonly" not in a for a in cmd)


def test_qemu_cpu_model_and_kernel_arguments_are_settable(tmp_path):
    be, _ = _backend(tmp_path)
    be.cpu, be.kernel_args = "max", "mitigations=off"
    cmd = be.command(_vm(), Request(argv=["true"], cwd="/", out=str(tmp_path / "out")))
    assert cmd[cmd.index("-cpu") + 1] == "max"
    assert "mitigations=off" in cmd[cmd.index("-append") + 1].split()


def test_paths_qemu_cannot_take_are_refused(tmp_path):
    be, _ = _backend(tmp_path)
    with pytest.raises(ValueError, match="space or comma"):
        be.command(_vm(), Request(argv=["true"], cwd="/", out="/tmp/a,b"))


def test_a_hung_vm_is_killed_at_the_timeout_and_failed(tmp_path):
    fake = tmp_path / "fake-qemu"
    fake.write_text("#!/bin/sh\necho 'booting forever'\nexec sleep 600\n")
    fake.chmod(0o755)
    be, _ = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    t0 = time.monotonic()
    res = be.run(_vm(), Request(argv=["true"], cwd="/", out=str(tmp_path / "out"), timeout=2))
    assert time.monotonic() - t0 < 10
    assert res.status is None and res.error.startswith("timeout") and not res.ok
    assert "booting forever" in open(res.console).read()


def test_a_guest_that_stops_without_status_is_failed_with_the_reason(tmp_path):
    fake = tmp_path / "fake-qemu"
    out = tmp_path / "out"
    fake.write_text(f"#!/bin/sh\necho 'init: mount host root over 9p' > {out}/init-failed\nexit 0\n")
    fake.chmod(0o755)
    be, _ = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    res = be.run(_vm(), Request(argv=["true"], cwd="/", out=str(out), timeout=20))
    assert res.status is None and "without an exit status" in res.error and "mount host root" in res.error


def test_exit_status_and_progress_come_back_through_the_shared_folder(tmp_path):
    fake = tmp_path / "fake-qemu"
    out = tmp_path / "out"
    fake.write_text(f"#!/bin/sh\nprintf '1.0 agent 6.1\\n2.0 collected 1\\n3.0 test 1/1 passed t::x\\n4.0 finished 1 0 0\\n'"
                    f" > {out}/progress\necho '{{\"status\": 1}}' > {out}/exit.json\n")
    fake.chmod(0o755)
    be, _ = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    seen = []
    res = be.run(_vm(), Request(argv=["true"], cwd="/", out=str(out), timeout=20), lambda n, l: seen.append(l))
    assert res.status == 1 and res.error is None and not res.ok
    assert [s.split()[1] for s in seen] == ["agent", "collected", "test", "finished"]
    assert set(res.timings) >= {"total", "boot", "setup", "tests", "shutdown"}


def test_timings_split_by_events():
    t = qemu.timings({"agent": 5.0, "collected": 20.0, "finished": 100.0, "exit": 101.0}, 103.0)
    assert t == {"total": 103.0, "boot": 5.0, "setup": 15.0, "tests": 80.0, "shutdown": 3.0}
    assert qemu.timings({}, 7.0) == {"total": 7.0}


def test_read_events_returns_only_complete_lines(tmp_path):
    (tmp_path / "progress").write_text("1 agent x\n2 coll")
    lines, off = backend.Backend.read_events(str(tmp_path), 0)
    assert lines == ["1 agent x"] and off == len("1 agent x\n")
    assert backend.Backend.read_events(str(tmp_path), off) == ([], off)


def test_guest_request_runs_each_runtime_and_keeps_the_worst_status(tmp_path):
    req = runner.guest_request(_vm(), "/p", "/p/.venv/bin/python", ["reference", "mod:fn"], str(tmp_path), ["-k", "x y"], 9)
    script = req.argv[-1]
    assert req.argv[:2] == ["/bin/sh", "-c"] and req.timeout == 9 and req.cwd == "/p"
    assert script.count("-m pytest -p libcontainer.vm.progress") == 2 and "exit $rc" in script
    assert "--runtime reference" in script and "clauses-mod_fn.json" in script and "'x y'" in script
    assert req.env["LCVM_PROGRESS"] == os.path.join(str(tmp_path), "progress")


def test_guest_agent_runs_the_request_and_writes_the_status(tmp_path):
    """The agent outside PID 1 (no power-off): runs the command, writes exit.json and events."""
    import subprocess
    (tmp_path / "request.json").write_text(json.dumps({"argv": ["sh", "-c", "exit 3"], "cwd": "/", "env": {}}))
    r = subprocess.run([sys.executable, "-m", "libcontainer.vm.guest", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert "status 3" in r.stdout
    assert json.loads((tmp_path / "exit.json").read_text())["status"] == 3
    assert [l.split()[1] for l in (tmp_path / "progress").read_text().splitlines()] == ["agent", "exit"]


def test_unknown_backend():
    with pytest.raises(ValueError):
        backend.get("virtualbox")


def test_a_guest_kernel_crash_is_booted_again_once(tmp_path):
    fake = tmp_path / "fake-qemu"
    out = tmp_path / "out"
    count = tmp_path / "count"
    # first boot: an Oops and no status; second boot: status 0
    fake.write_text(f"#!/bin/sh\nif [ -e {count} ]; then echo '{{\"status\": 0}}' > {out}/exit.json; exit 0; fi\n"
                    f"touch {count}\necho 'Oops: int3: 0000 [#1]'\necho 'Kernel panic - not syncing'\n")
    fake.chmod(0o755)
    be, _ = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    seen = []
    res = be.run(_vm(), Request(argv=["true"], cwd="/", out=str(out), timeout=20), lambda n, l: seen.append(l))
    assert res.ok and res.timings["crashed_boots"] == 1
    assert "Kernel panic" in (out / "console-crash-1.log").read_text()
    assert any(" crash " in l for l in seen)


def test_a_crash_twice_fails_with_the_console_kept(tmp_path):
    fake = tmp_path / "fake-qemu"
    fake.write_text("#!/bin/sh\necho 'Kernel panic - not syncing'\n")
    fake.chmod(0o755)
    be, _ = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    res = be.run(_vm(), Request(argv=["true"], cwd="/", out=str(tmp_path / "out"), timeout=20))
    assert not res.ok and "without an exit status" in res.error
    assert "Kernel panic" in open(res.console).read()


def test_vagrant_backend_parametrises_the_vagrantfile_and_enters_the_namespace(tmp_path):
    from libcontainer.vm import vagrant as vagrant_backend
    be = vagrant_backend.VagrantBackend(project=str(tmp_path), cache=str(tmp_path / "cache"))
    vm = _vm(box="libcontainer/t", cpus=1, memory_mb=1024)
    os.makedirs(be.box_dir(vm))
    for f in ("vmlinuz", "initrd.img"):
        (tmp_path / "cache" / "boxes" / "t" / f).write_bytes(b"")
    env = be._env(vm, {"LCVM_SYNC": "/a:/b"})
    assert env["LCVM_BOX"] == "libcontainer/t" and env["LCVM_CGROUP"] == "v2" and env["LCVM_CPUS"] == "1"
    assert env["LCVM_KERNEL"].endswith("boxes/t/vmlinuz") and env["LCVM_SYNC"] == "/a:/b"
    assert env["VAGRANT_HOME"].startswith(str(tmp_path / "cache"))
    be._wrapper()
    text = open(be.wrapper).read()
    assert f"ip netns exec {vagrant_backend.NETNS} /usr/bin/vagrant" in text and "timeout" in text
    vf = open(os.path.join(os.path.dirname(vagrant_backend.__file__), "Vagrantfile")).read()
    for var in ("LCVM_BOX", "LCVM_CGROUP", "LCVM_KERNEL", "LCVM_SYNC", "LCVM_CONSOLE", "cgroup_no_v1=all"):
        assert var in vf


class _FakeBackend(backend.Backend):
    """Writes a clause report per VM (or fails the VM named 'bad') without booting anything."""

    name = "fake"

    def prepare(self, vm):
        pass

    def run(self, vm, request, on_event=None):
        if vm.name == "bad":
            console = os.path.join(request.out, "console.log")
            with open(console, "w") as f:
                f.write("Kernel panic - not syncing\n")
            return backend.Result(vm.name, None, "timeout: killed after 1 s", console, request.out, {"total": 1.0})
        rec = [{"clause": "LC-A-01", "title": "t", "runtime": "reference", "kernel": vm.package, "cgroup": vm.cgroup,
                "outcome": "passed", "tests": ["t::a"]}]
        with open(os.path.join(request.out, "clauses-reference.json"), "w") as f:
            json.dump(rec, f)
        if on_event:
            on_event(vm.name, "1.0 agent x")
        return backend.Result(vm.name, 0, None, "", request.out, {"total": 2.0})


def test_run_matrix_merges_every_vm_and_the_host_report(tmp_path, capsys):
    host = tmp_path / "host.json"
    host.write_text(json.dumps([{"clause": "LC-A-01", "title": "t", "runtime": "reference", "kernel": "6.18",
                                 "cgroup": "hybrid", "outcome": "passed", "tests": ["t::a"]}]))
    vms = [_vm(name="a", package="k1", cgroup="v1"), _vm(name="b", package="k2")]
    rc = runner.run_matrix(_FakeBackend(), vms, str(tmp_path), str(tmp_path / "out"), ["reference"], sys.executable,
                           host=str(host), parallel=2)
    assert rc == 0
    merged = json.loads((tmp_path / "out" / "matrix.json").read_text())
    assert {(r["kernel"], r["cgroup"]) for r in merged} == {("6.18", "hybrid"), ("k1", "v1"), ("k2", "v2")}
    assert "booted kernel x" in capsys.readouterr().out
    summary = json.loads((tmp_path / "out" / "vm" / "summary.json").read_text())
    assert set(summary) == {"a", "b"} and all(s["status"] == 0 for s in summary.values())


def test_run_matrix_fails_a_vm_that_failed_and_prints_its_console(tmp_path, capsys):
    vms = [_vm(name="bad"), _vm(name="good")]
    rc = runner.run_matrix(_FakeBackend(), vms, str(tmp_path), str(tmp_path / "out"), ["reference"], sys.executable,
                           host=None)
    assert rc == 1
    out = capsys.readouterr().out
    assert "FAILED: timeout" in out and "Kernel panic" in out and "console log kept" in out
    merged = json.loads((tmp_path / "out" / "matrix.json").read_text())
    assert [r["kernel"] for r in merged if r["clause"]] == ["linux-image-test"]  # the good VM's records still merge
    assert [(r["kernel"], r["outcome"]) for r in merged if not r["clause"]] == [("bad", "crashed")]


def test_sigterm_during_a_parallel_run_kills_every_vm_and_returns(tmp_path):
    import signal
    import threading
    from libcontainer.vm import __main__ as cli
    fake = tmp_path / "fake-qemu"
    fake.write_text(f"#!/bin/sh\necho $$ >> {tmp_path}/pids\nexec sleep 600\n")
    fake.chmod(0o755)
    be, k = _backend(tmp_path, str(fake))
    be.prepare = lambda vm: None
    be._prepared["t-b"] = be._prepared["t-v2"]
    vms = [_vm(timeout_s=300), _vm(name="t-b", timeout_s=300)]
    pids = tmp_path / "pids"

    def terminate_once_both_run():
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and (not pids.exists() or len(pids.read_text().split()) < 2):
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
    old = signal.signal(signal.SIGTERM, cli._terminate)
    threading.Thread(target=terminate_once_both_run, daemon=True).start()
    t0 = time.monotonic()
    try:
        with pytest.raises(SystemExit):
            runner.run_matrix(be, vms, str(tmp_path), str(tmp_path / "out"), ["reference"], sys.executable,
                              host=None, parallel=2)
    finally:
        signal.signal(signal.SIGTERM, old)
    assert time.monotonic() - t0 < 20
    for pid in pids.read_text().split():
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_smoke_command_reaches_the_runner_with_one_vagrant_vm(monkeypatch, tmp_path):
    """`smoke` has no --shard/--full options: main must still hand the runner one VM, the vagrant
    backend and no shard (a missing attribute once failed the CI's Vagrant smoke after the VMs passed)."""
    from libcontainer.vm import __main__ as cli
    from libcontainer.vm import backend as backend_mod

    seen = {}

    class FakeBackend:
        name = "vagrant"

        def close(self):
            seen["closed"] = True

    monkeypatch.setattr(backend_mod, "get", lambda name, **kw: seen.setdefault("backend", name) and FakeBackend())
    monkeypatch.setattr(runner, "run_matrix", lambda be, vms, *a, **kw: seen.update(vms=[v.name for v in vms], **kw) or 0)
    assert cli.main(["smoke", "--out", str(tmp_path / "smoke")]) == 0
    assert seen["backend"] == "vagrant" and len(seen["vms"]) == 1 and seen["shard"] == "" and seen["closed"]


def test_precompile_leaves_pytests_rewritten_test_modules_for_the_guests(tmp_path, monkeypatch):
    """The guests write no bytecode: the host caches pytest's assertion rewriting of the suite's test modules."""
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")  # as in a guest, or a CI that sets it: precompile unsets it
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("def test_x():\n    assert 1 + 1 == 2\n")
    runner.precompile(sys.executable, str(tmp_path), [("tests", "-p", "no:libcontainer")])
    cached = [p.name for p in (tmp_path / "tests" / "__pycache__").iterdir()]
    assert any("-pytest-" in name for name in cached), cached
