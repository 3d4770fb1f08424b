"""``lcrun``: an OCI runtime command line (runc's, as OCI tools call it) over the reference.

Modules: :mod:`.main` (arguments, errors, exit codes, the log), :mod:`.store` (the root
directory: the reference factory and one record per container), :mod:`.bundle` (config.json and
process.json through ``libcontainer.spec.oci``, what cannot be honoured refused),
:mod:`.lifecycle` (create, start, run, state, list, kill, delete), :mod:`.operations` (exec,
ps, pause, resume, events), :mod:`.keeper` (the process a ``--pid-file`` names), :mod:`.info`
(spec, features, version). It drives ``libcontainer.reference.LinuxFactory`` through the public
API only.
"""
