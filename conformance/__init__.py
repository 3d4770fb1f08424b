"""The conformance harness: a pytest plugin that runs :mod:`libcontainer.spec.tests`
against any implementation (``--runtime``), fixtures, leak checks and clause reports.
"""
