"""Config semantics, devices: each ``Config.devices`` entry is a node in the container's /dev with its
type, numbers, mode and owner, and it can be used (SPEC.md LC-CFG-DEV-*)."""

from __future__ import annotations

import dataclasses

import pytest

from libcontainer.spec import Device

from .helpers import run_init

DEVICES = [Device(path="/dev/lc-null", type="c", major=1, minor=3, file_mode=0o640, uid=1000, gid=1001),
           Device(path="/dev/lc/zero", type="c", major=1, minor=5, file_mode=0o604, uid=0, gid=0),
           Device(path="/dev/lc-loop", type="b", major=7, minor=0, file_mode=0o600, uid=0, gid=6),
           Device(path="/dev/lc-fifo", type="p", file_mode=0o620, uid=2, gid=3)]
KINDS = {"c": "character special file", "b": "block special file", "p": "fifo"}


@pytest.mark.clause("LC-CFG-DEV-01")
def test_device_nodes_have_type_numbers_mode_and_owner(factory, config):
    script = "; ".join(f"stat -c '%n|%F|%t|%T|%a|%u|%g' {d.path}" for d in DEVICES)
    c, out, status = run_init(factory, "devices", dataclasses.replace(config, devices=DEVICES), script)
    try:
        assert status == 0, out
        got = {line.split("|")[0]: line.split("|")[1:] for line in out.strip().splitlines()}
        for d in DEVICES:
            kind, major, minor, mode, uid, gid = got[d.path]
            assert kind == KINDS[d.type], (d.path, kind)
            if d.type != "p":
                assert (int(major, 16), int(minor, 16)) == (d.major, d.minor), d.path
            assert int(mode, 8) == d.file_mode, f"{d.path}: mode {mode}, want {d.file_mode:o}"
            assert (int(uid), int(gid)) == (d.uid, d.gid), f"{d.path}: owner {uid}:{gid}"
    finally:
        c.destroy()


@pytest.mark.clause("LC-CFG-DEV-02")
def test_device_nodes_can_be_used(factory, config):
    script = "head -c 8 /dev/lc/zero | od -An -tx1; echo gone > /dev/lc-null && echo null-ok"
    c, out, status = run_init(factory, "devices-use", dataclasses.replace(config, devices=DEVICES),
                              "exec 2>&1; " + script)
    try:
        assert status == 0, out
        assert out.split("\n")[0].split() == ["00"] * 8, f"/dev/lc/zero (1:5) reads zeros: {out!r}"
        assert "null-ok" in out, f"/dev/lc-null (1:3) takes writes: {out!r}"
    finally:
        c.destroy()
