"""Run states of a container (seed: ``configs.RunState``; STOPPED from later libcontainer)."""

from __future__ import annotations

import enum


class Status(enum.Enum):
    """The run state that :meth:`Container.status` reports.

    * CREATED: extension (OCI runtime-spec, lifecycle): made by ``create(id, config, start=False)``;
      init is set up and waits before it executes the program, until ``Container.start()``.
    * RUNNING: init is alive and the container is not frozen.
    * PAUSING: a pause was asked for and the freezer has not finished.
    * PAUSED: every process of the container is frozen.
    * STOPPED: init has exited; the container still exists until destroyed.
    * DESTROYED: the container is gone. ``status()`` never returns it (it
      raises ContainerDestroyed, as the seed's RunState does); it names the
      state in SPEC.md's transition table.
    """

    CREATED = "created"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    STOPPED = "stopped"
    DESTROYED = "destroyed"
