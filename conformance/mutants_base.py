"""The frame every mutant is built on (see :mod:`libcontainer.conformance.mutants`): the reference
factory whose containers are wrapped, and the two builders of a mutant from a few replaced methods."""

from __future__ import annotations

from typing import Callable

from libcontainer.spec import Config, Container, ContainerStats, Factory, Process, Status


class Delegating(Container):
    """A Container that forwards every call to ``inner``."""

    def __init__(self, inner: Container):
        self.inner = inner

    @property
    def id(self) -> str:
        return self.inner.id

    def status(self) -> Status:
        return self.inner.status()

    def config(self) -> Config:
        return self.inner.config()

    def processes(self) -> list[int]:
        return self.inner.processes()

    def stats(self) -> ContainerStats:
        return self.inner.stats()

    def start_process(self, process: Process) -> int:
        return self.inner.start_process(process)

    def destroy(self) -> None:
        return self.inner.destroy()

    def pause(self) -> None:
        return self.inner.pause()

    def resume(self) -> None:
        return self.inner.resume()

    def signal(self, pid: int, sig: int) -> None:
        return self.inner.signal(pid, sig)

    def wait(self) -> int:
        return self.inner.wait()

    def wait_process(self, pid: int) -> int:
        return self.inner.wait_process(pid)

    def start(self) -> None:
        return self.inner.start()


class MutantFactory(Factory):
    """The reference factory, its containers wrapped in ``container_class``."""

    container_class = Delegating

    def __init__(self, root: str):
        from libcontainer.reference import LinuxFactory
        self.inner = LinuxFactory(root)
        self.root = self.inner.root

    def create(self, container_id: str, config: Config, start: bool = True) -> Container:
        return self.container_class(self.inner.create(container_id, config, start=start))

    def load(self, container_id: str) -> Container:
        return self.container_class(self.inner.load(container_id))


def mutant(name: str, **methods: Callable) -> type[MutantFactory]:
    """A MutantFactory class ``name`` whose containers have ``methods`` (Container method name ->
    function) in place of the reference's; ``_factory`` (a dict) replaces the factory's own methods."""
    factory_methods = methods.pop("_factory", {})
    container = type(f"{name}Container", (Delegating,), methods)
    return type(name, (MutantFactory,), {"container_class": container, **factory_methods})


def ignoring(name: str, transform: Callable[[Config], Config]) -> type[MutantFactory]:
    """A mutant that creates every container from ``transform(config)``: fields a runtime silently
    drops (reset to what it would give) while create succeeds and reports nothing."""
    def create(self, container_id, config, start=True):
        return self.container_class(self.inner.create(container_id, transform(config), start=start))
    return mutant(name, _factory={"create": create})


__all__ = ["Delegating", "MutantFactory", "ignoring", "mutant"]
