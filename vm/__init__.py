"""libcontainer.vm: the kernel matrix, the conformance suite run inside VMs of other kernels and cgroup modes.

* :mod:`~libcontainer.vm.matrix`: the matrix as data (``matrix.toml``).
* :mod:`~libcontainer.vm.backend`: the backend interface; :mod:`~libcontainer.vm.qemu` (direct qemu under TCG,
  the default) and :mod:`~libcontainer.vm.vagrant` (Vagrant through python-vagrant, libvirt provider).
* :mod:`~libcontainer.vm.runner`: boots each VM in turn, runs the suite, merges the clause reports.
* ``python -m libcontainer.vm run``: the one command (see vm/README.md).
"""
