"""The root directory of ``lcrun`` (``--root``, default /run/lcrun).

::

    <root>/containers/        the reference's LinuxFactory root (its own layout, ARCHITECTURE.md)
    <root>/records/<name>.json what the OCI state needs and the reference does not keep: the id, the
                              bundle path, the annotations, the creation time (RFC 3339); <name> is
                              the reference's name of the id's state directory (long ids hashed)

A record is written after the container is created and removed after it is destroyed; a record
whose container is gone is stale and removed when met.
"""

from __future__ import annotations

import datetime
import json
import os

from libcontainer.reference import LinuxFactory
from libcontainer.spec import ContainerDestroyed, Status

DEFAULT_ROOT = "/run/lcrun"
#: the reference's states as the OCI state's ``status`` (runtime-spec runtime.md "State")
OCI_STATUS = {Status.CREATED: "created", Status.RUNNING: "running", Status.PAUSING: "paused",
              Status.PAUSED: "paused", Status.STOPPED: "stopped"}


class NotFound(Exception):
    """No container of that id (runc: "container does not exist")."""


class Store:
    def __init__(self, root: str = DEFAULT_ROOT):
        self.root = os.path.abspath(root)
        self.factory = LinuxFactory(os.path.join(self.root, "containers"))
        self.records = os.path.join(self.root, "records")

    def _record_path(self, container_id: str) -> str:
        # named as the reference names the container's state directory (long ids are hashed)
        return os.path.join(self.records, os.path.basename(self.factory.state_dir(container_id)) + ".json")

    def save(self, container_id: str, bundle: str, annotations: dict) -> dict:
        os.makedirs(self.records, mode=0o700, exist_ok=True)
        created = datetime.datetime.now(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        record = {"id": container_id, "bundle": bundle, "annotations": annotations, "created": created}
        tmp = self._record_path(container_id) + ".tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.replace(tmp, self._record_path(container_id))
        return record

    def record(self, container_id: str) -> dict:
        try:
            with open(self._record_path(container_id)) as f:
                return json.load(f)
        except (FileNotFoundError, ValueError):
            return {"bundle": "", "annotations": {}, "created": ""}

    def forget(self, container_id: str) -> None:
        """Remove the record; then the root's directories if nothing is left in them (runc leaves
        nothing of a deleted container under its root either)."""
        for path in (self._record_path(container_id), self._record_path(container_id) + ".tmp"):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        for path in (self.records, self.factory.root):
            try:
                os.rmdir(path)
            except OSError:
                pass  # not empty (another container), or gone

    def load(self, container_id: str):
        """The reference container, or NotFound (its stale record removed)."""
        try:
            return self.factory.load(container_id)
        except ContainerDestroyed:
            self.forget(container_id)
            raise NotFound(container_id) from None

    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.records)
        except FileNotFoundError:
            return []
        ids = []
        for name in names:
            if name.endswith(".json"):
                try:
                    with open(os.path.join(self.records, name)) as f:
                        ids.append(json.load(f)["id"])
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # removed meanwhile, or half-written
        return sorted(ids)

    def state(self, container_id: str, container=None) -> dict:
        """The OCI state (runtime-spec runtime.md "State") of ``container_id``, with runc's extra
        ``rootfs``, ``created`` and ``owner``."""
        container = container or self.load(container_id)
        try:
            status = container.status()
        except ContainerDestroyed:
            self.forget(container_id)
            raise NotFound(container_id) from None
        record = self.record(container_id)
        state = {"ociVersion": "1.0.2", "id": container_id,
                 "pid": 0 if status == Status.STOPPED else container.init_pid,
                 "status": OCI_STATUS[status], "bundle": record["bundle"], "rootfs": container.config().rootfs,
                 "created": record["created"], "owner": ""}
        if record["annotations"]:
            state["annotations"] = record["annotations"]
        return state
