"""What a container handle reads from its state directory and asks its monitor: the base of the
reference's ``LinuxContainer`` and the OCI adapter's ``OCIContainer``.

A handle holds its id, state directory and :class:`.statefile.ContainerState`, and re-reads the
rest each call, so several handles (in one process or many) agree. It is bound to one
incarnation of its id: only a missing ``state.json``, or one of another incarnation, proves a
destroy (SPEC.md LC-FAULT-01, LC-FAULT-04).
"""

from __future__ import annotations

import contextlib
import os
import signal

from libcontainer.spec import Config, Container, ContainerDestroyed, ProcessNotFound, SystemFailure

from . import linux
from . import messages
from . import statedir
from . import statefile


class StateHandle(Container):
    """A Container backed by a state directory ``state_dir`` and a monitor (see the module doc)."""

    def __init__(self, container_id: str, state_dir: str, state: statefile.ContainerState):
        self._id = container_id
        self._dir = state_dir
        self._state = state
        self._config = Config.from_dict(state.config)

    @property
    def id(self) -> str:
        return self._id

    def config(self) -> Config:
        return self._config

    @property
    def init_pid(self) -> int:
        """Host pid of the container's init."""
        return self._state.init_pid

    def __repr__(self) -> str:
        return f"{type(self).__name__}(id={self._id!r}, init_pid={self.init_pid})"

    # -- existence ------------------------------------------------------
    def _exists(self) -> bool:
        """True while the state directory holds this handle's incarnation of the container."""
        try:
            found = statefile.incarnation(statefile.path_in(self._dir))
        except FileNotFoundError:
            return False
        # unreadable now (a full or read-only disk, a tamperer): not proof of a destroy
        return found is None or found == self._state.incarnation

    def _check(self) -> None:
        if not self._exists():
            raise ContainerDestroyed(f"container {self._id!r} does not exist")

    def wait(self) -> int:
        return self.wait_process(self.init_pid)

    def _check_waitable(self, pid) -> None:
        """ProcessNotFound for a ``pid`` that is no int; ContainerDestroyed once destroyed."""
        if isinstance(pid, bool) or not isinstance(pid, int):
            raise ProcessNotFound(f"pid {pid!r} is not a process of container {self._id!r}")
        self._check()

    # -- the monitor ----------------------------------------------------
    def _monitor_alive(self) -> bool:
        pid = self._state.monitor_pid
        return (bool(pid) and linux.process_start_time(pid) == self._state.monitor_start
                and linux.process_state(pid) not in ("Z", "X", None))

    def _wait_monitor(self, timeout: float = 10.0) -> None:
        """Wait for the monitor to exit (it does once the container's last process is reaped); SIGKILL
        it past ``timeout`` s; reap it when this process started it (LC-FAULT-07)."""
        statedir.end_process(self._state.monitor_pid, self._state.monitor_start, grace=timeout)

    def _record_lost_init(self) -> None:
        """The monitor is gone while init runs: record init's status as 128 + SIGKILL (LC-FAULT-03)
        before the caller kills it, so whoever sees init gone finds its status."""
        if statedir.read_exit(self._dir, self.init_pid) is None:
            with contextlib.suppress(OSError):
                statedir.write_exit(self._dir, self.init_pid, 128 + signal.SIGKILL)

    def _ask(self, request, fds=()):
        """Send ``request`` to the monitor; its reply, or None when no monitor answers (it has exited
        with the container's last process). SystemFailure for any other failure."""
        try:
            sock = statedir.connect(self._dir)
        except (FileNotFoundError, ConnectionRefusedError):
            return None
        except OSError as e:
            raise SystemFailure(f"connect to monitor: {e}", errno=e.errno) from e
        with sock:
            try:
                messages.send_msg(sock, request, fds)
                return messages.recv_reply(sock)
            except (ConnectionResetError, BrokenPipeError):
                return None  # the monitor exited with the container's last process
            except OSError as e:
                raise SystemFailure(f"monitor request: {e}", errno=e.errno) from e

    def _recorded_init_status(self) -> int:
        """Init's status once its monitor has closed the connection (LC-FAULT-03): after the monitor
        has exited and :meth:`status` has run (it kills an init nobody keeps and records 137), as
        recorded; SystemFailure when it never was (the monitor died or could not write it)."""
        self._wait_monitor()  # it closed the connection: it is exiting (its fds close before it is dead)
        self.status()
        code = statedir.read_exit(self._dir, self.init_pid)
        if code is not None:
            return code
        self._check()
        raise SystemFailure(f"the exit status of container {self._id!r}'s init was never recorded "
                            "(its monitor died or could not write it)")

    def _finish_half_destroy(self) -> bool:
        """True (after removing it) when the directory is what a destroy killed after removing
        ``state.json`` left (its lock, files); the caller holds the lock."""
        if os.path.lexists(statefile.path_in(self._dir)):
            return False
        statedir.remove_state_dir(self._dir)
        return True


def reraise(error: BaseException, what: str):
    """Raise ``error`` again, an OSError (not already a LibcontainerError) as SystemFailure naming
    ``what`` and carrying its errno: the public API lets no bare OSError out (SPEC.md LC-GEN-03)."""
    if isinstance(error, OSError):
        raise SystemFailure(f"{what}: {error}", errno=error.errno) from error
    raise error
