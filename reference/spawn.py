"""Fork a child that sets itself up and execs, and wait for the exec: the one hand-off every
container process goes through (the init, a process joining a container, lcrun's exec).

The child reports a failure before its exec as JSON on a close-on-exec pipe
(:func:`libcontainer.reference.process.report_error`); EOF without data means it exec'd (the
pipe closed by execve(2): the O_CLOEXEC pattern of fork(2)/execve(2)).
"""

from __future__ import annotations

import json
import os


def spawn(child, during=None) -> tuple[int, dict | None]:
    """Fork ``child(errfd)`` (which never returns: it execs or reports through ``errfd``, a
    close-on-exec pipe, with :func:`report_error`); (pid, None) once it has exec'd (EOF on the pipe),
    or (pid, the error it reported as a dict: kind, errno, message), the child then reaped.
    ``during(pid)`` runs in the parent before it waits for the exec (the network set-up, the cgroup
    move); its exception is reported as the error (kind "system"). Raises OSError when fork(2) fails."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        raise
    if pid == 0:
        os.close(r)
        child(w)  # never returns
    os.close(w)
    with os.fdopen(r, "rb") as f:
        hook_error = None
        if during is not None:
            try:
                during(pid)
            except Exception as e:  # noqa: BLE001 - reported below, after the child is gone
                hook_error = e
        data = f.read()
    if data or hook_error is not None:
        os.waitpid(pid, 0)
        if hook_error is None:
            return pid, json.loads(data)
        # the parent's own failure is the cause; the child only gave up after it
        return pid, {"kind": "system", "errno": getattr(hook_error, "errno", None),
                     "message": f"{type(hook_error).__name__}: {hook_error}"}
    return pid, None
