"""libcontainer: the container lifecycle API of Go's libcontainer, in Python.

Subpackages:

* :mod:`libcontainer.spec`: the interface (Factory, Container), its data
  classes, errors and states, and the executable specification.
* :mod:`libcontainer.reference`: the reference Linux implementation.
* :mod:`libcontainer.conformance`: the pytest plugin that runs the
  specification against any implementation.
"""
