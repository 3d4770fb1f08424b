"""The create/start split beyond the transition table (SPEC.md "The create/start split")."""

from __future__ import annotations

import dataclasses
import os

import pytest

from libcontainer.spec import ConfigInvalid, ContainerDestroyed, Status

from .helpers import create_unstarted, read_all


@pytest.mark.clause("LC-CREATED-02")
def test_start_runs_the_program_and_wait_gives_its_status(factory, config):
    r, w = os.pipe()
    try:
        proc = dataclasses.replace(config.process, args=["sh", "-c", "echo started; exit 5"], stdout=w)
        c = create_unstarted(factory, "split", dataclasses.replace(config, process=proc))
    finally:
        os.close(w)
    try:
        assert c.status() == Status.CREATED
        c.start()
        assert read_all(r) == "started\n"
        assert c.wait() == 5
        assert c.status() == Status.STOPPED
    finally:
        os.close(r)
        c.destroy()


@pytest.mark.clause("LC-CREATED-08")
def test_missing_program_is_refused_by_create(factory, config):
    proc = dataclasses.replace(config.process, args=["/no/such/program"])
    with pytest.raises(ConfigInvalid):
        create_unstarted(factory, "split", dataclasses.replace(config, process=proc))
    with pytest.raises(ContainerDestroyed):
        factory.load("split")
    c = create_unstarted(factory, "split", config)  # the id is free again
    assert c.status() == Status.CREATED
    c.destroy()
