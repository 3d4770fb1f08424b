"""Another process destroys the container (seed: "a container can be destroyed by a
separate process"); this process then gets ContainerDestroyed (SPEC.md LC-GEN-02)."""

import subprocess
import sys
import textwrap

import pytest

from libcontainer.spec import ContainerDestroyed, Status


@pytest.mark.clause("LC-GEN-02", "LC-FACTORY-04")
def test_destroy_from_another_process(factory, factory_root, runtime_name, config):
    c = factory.create("xproc", config)
    try:
        assert c.status() == Status.RUNNING
        script = textwrap.dedent(f"""
            from libcontainer.conformance.runtimes import resolve
            c = resolve({runtime_name!r})({factory_root!r}).load("xproc")
            c.signal(c.processes()[0], 9)
            print(c.wait())
            c.destroy()
        """)
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == "137"
        with pytest.raises(ContainerDestroyed):
            c.status()
        with pytest.raises(ContainerDestroyed):
            c.wait()
    finally:
        c.destroy()
