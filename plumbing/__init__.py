"""The runtime plumbing that the reference (``libcontainer.reference``) and the OCI adapter
(``libcontainer.conformance.oci``) share, so that neither keeps a copy: it imports only
``libcontainer.spec`` and the standard library.

=================  ===================================================================
module             job
=================  ===================================================================
``linux``          every Linux call through ctypes (unshare, setns, mount, pivot_root,
                   prctl, capget/capset, bpf, openat2, renameat2, close_range), /proc reads
``syscalls``       syscall numbers per architecture; NotSupported where unknown
``statedir``       the state directory: names, flock, atomic writes, exit records, removal
``statefile``      ``state.json`` as :class:`ContainerState` (format version, JSON round trip)
``messages``       the monitor's requests and replies as named types, over its unix socket
``server``         the request loop and reaper every monitor runs
``handle``         the base of a container handle: state, incarnation, asking the monitor
``reaper``         reaps the monitors this process started (LC-FAULT-07)
=================  ===================================================================
"""
