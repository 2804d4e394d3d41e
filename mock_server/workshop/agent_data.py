"""A learner's agent API data in the class database, shared by every worker process.

An action reads the data and its version, runs, and — only if it changed anything — writes the
data back where the version is still the one it read. If another worker wrote in between, the
action runs again on what that worker wrote: two workers never both hand out webhook ``wh-1``,
and an agent changed through one worker is changed for all. Reads take no lock at all.
"""
from __future__ import annotations

import dataclasses
import json

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..agent_api import World
from .models import AgentData

ATTEMPTS = 20


class StoredWorld:
    def __init__(self, classroom, tenant_id: str):
        self._classroom, self._tenant = classroom, tenant_id

    def perform(self, action):
        """`action(world)`'s answer; its changes saved, or the action run again on newer data."""
        db, row = self._classroom.session, AgentData.tenant == self._tenant
        for _ in range(ATTEMPTS):
            data, version = db.execute(select(AgentData.data, AgentData.version).where(row)).one()
            world = world_from_json(data)
            answer = action(world)
            changed = world_to_json(world)
            if changed == data:
                return answer
            saved = db.execute(update(AgentData).where(row, AgentData.version == version)
                               .values(data=changed, version=version + 1)).rowcount
            db.commit()
            if saved:
                return answer
        raise RuntimeError("the agent API data kept changing under this action")

    def start_over(self) -> None:
        """The demo data again (a new learner, or a reset), whether or not there was a row."""
        db = self._classroom.session
        dialect = postgresql if db.get_bind().dialect.name == "postgresql" else sqlite
        data = world_to_json(World.demo())
        db.execute(dialect.insert(AgentData).values(tenant=self._tenant, version=0, data=data)
                   .on_conflict_do_update(index_elements=["tenant"], set_={"data": data,
                                                                          "version": AgentData.version + 1}))
        db.commit()


def world_to_json(world: World) -> str:
    return json.dumps(dataclasses.asdict(world), sort_keys=True)


def world_from_json(text: str) -> World:
    data = json.loads(text)
    data["groups"] = {int(key): name for key, name in data["groups"].items()}  # JSON keys are strings
    return World(**data)
