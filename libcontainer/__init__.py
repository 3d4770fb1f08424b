"""libcontainer: the container lifecycle API of Go's libcontainer, in Python.

Where each import name lives in the source tree (``pyproject.toml`` maps
the folders to the names; ARCHITECTURE.md says how the parts work together):

====================================  ==================  =====================================================
import name                           folder              what it is
====================================  ==================  =====================================================
``libcontainer``                      ``libcontainer/``   this index
``libcontainer.busybox``              ``libcontainer/``   a busybox root filesystem for examples and tests
``libcontainer.spec``                 ``spec/``           the interface (Factory, Container), data classes,
                                                          errors, states, the transition table
                                                          (``spec/transitions.py``), config validation and
                                                          the OCI converter; normative text ``spec/SPEC.md``
``libcontainer.spec.tests``           ``spec/tests/``     the executable specification (needs ``--runtime``)
``libcontainer.plumbing``             ``plumbing/``       what the reference and the OCI adapter share: Linux
                                                          calls (ctypes, syscall numbers per architecture),
                                                          the state directory, ``state.json`` (typed,
                                                          versioned), the monitor's messages and loop
``libcontainer.reference``            ``reference/``      the reference Linux implementation (LinuxFactory)
``libcontainer.reference.cgroups``    ``reference/cgroups/``  cgroup v1 and v2 drivers
``libcontainer.conformance``          ``conformance/``    the pytest plugin (``--runtime``), fixtures, leak
                                                          checks, clause reports, mutants, the ``root`` marker
``libcontainer.conformance.oci``      ``conformance/oci/``    the runc/crun adapter over their command line
``libcontainer.vm``                   ``vm/``             the kernel matrix (qemu and Vagrant VMs)
``libcontainer.cli``                  ``cli/``            ``lcrun``: an OCI runtime command line (runc's)
                                                          over the reference
(not installed)                       ``spec/units/``, ``plumbing/tests/``, ``reference/tests/``,
                                      ``conformance/tests/``, ``vm/tests/``, ``cli/tests/``: unit tests;
                                      ``bench/``: benchmarks and the soak; ``ci/``: the CI scripts
====================================  ==================  =====================================================
"""
