"""``lcrun``: an OCI runtime command line (runc's, as OCI tools call it) over the reference.

Modules: :mod:`.main` (arguments, errors, exit codes, the log), :mod:`.store` (the root
directory: the reference factory and one record per container), :mod:`.bundle` (config.json and
process.json through ``libcontainer.spec.oci``, what cannot be honoured refused),
:mod:`.lifecycle` (create, start, run, state, list, kill, delete), :mod:`.operations` (exec,
ps, pause, resume), :mod:`.execproc` (exec's process, forked here as runc forks it),
:mod:`.events` (runc's stats layout), :mod:`.keeper` (the process create's ``--pid-file``
names), :mod:`.info` (spec, features, version). It drives ``libcontainer.reference.LinuxFactory``
through the public API, and, for exec, the reference's set-up of a joining process (``reference/process.py``).
"""
