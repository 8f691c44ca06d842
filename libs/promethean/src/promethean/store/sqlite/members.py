"""Members of partitioned groups and the coordinator's group state (CAS on generation)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

import msgspec

from promethean.store.records import GroupState, Member
from promethean.store.sqlite.base import SQLiteBase
from promethean.store.sqlite.codec import OBJECT, STRINGS, to_json

_ASSIGNMENT: Final = msgspec.json.Decoder(dict[str, dict[str, list[int]]])

_PUT_MEMBER: Final = (
    'INSERT INTO group_members ("group", member_id, topics, expires_at_ms, instance_id,'
    " generation, data) VALUES (?, ?, ?, ?, ?, ?, ?)"
    ' ON CONFLICT ("group", member_id) DO UPDATE SET topics = excluded.topics,'
    " expires_at_ms = excluded.expires_at_ms, instance_id = excluded.instance_id,"
    " generation = excluded.generation, data = excluded.data"
)
_DELETE_MEMBER: Final = 'DELETE FROM group_members WHERE "group" = ? AND member_id = ?'
_MEMBERS: Final = (
    "SELECT member_id, topics, expires_at_ms, instance_id, generation, data"
    ' FROM group_members WHERE "group" = ? ORDER BY member_id'
)
_STATE: Final = 'SELECT generation, assignment, data FROM group_state WHERE "group" = ?'
_CREATE_STATE: Final = (
    'INSERT INTO group_state ("group", generation, assignment, data) VALUES (?, ?, ?, ?)'
    ' ON CONFLICT ("group") DO NOTHING'
)
_REPLACE_STATE: Final = (
    "UPDATE group_state SET generation = ?, assignment = ?, data = ?"
    ' WHERE "group" = ? AND generation = ?'
)


def put_member(conn: sqlite3.Connection, member: Member) -> None:
    conn.execute(
        _PUT_MEMBER,
        (
            member.group,
            member.member_id,
            to_json(member.topics),
            member.expires_at_ms,
            member.instance_id,
            member.generation,
            to_json(member.data),
        ),
    )


def delete_member(conn: sqlite3.Connection, group: str, member_id: str) -> bool:
    return conn.execute(_DELETE_MEMBER, (group, member_id)).rowcount > 0


def members_of(conn: sqlite3.Connection, group: str) -> list[Member]:
    return [_member(group, row) for row in conn.execute(_MEMBERS, (group,))]


def _member(group: str, row: Sequence[Any]) -> Member:
    member_id, topics, expires_at_ms, instance_id, generation, data = row
    return Member(
        group=group,
        member_id=member_id,
        topics=STRINGS.decode(topics),
        expires_at_ms=expires_at_ms,
        instance_id=instance_id,
        generation=generation,
        data=OBJECT.decode(data),
    )


def state_of(conn: sqlite3.Connection, group: str) -> GroupState | None:
    row = conn.execute(_STATE, (group,)).fetchone()
    if row is None:
        return None
    generation, assignment, data = row
    return GroupState(
        group=group,
        generation=generation,
        assignment=_ASSIGNMENT.decode(assignment),
        data=OBJECT.decode(data),
    )


def put_state(conn: sqlite3.Connection, state: GroupState, expected_generation: int | None) -> bool:
    assignment, data = to_json(state.assignment), to_json(state.data)
    if expected_generation is None:
        params: tuple[Any, ...] = (state.group, state.generation, assignment, data)
        return conn.execute(_CREATE_STATE, params).rowcount > 0
    params = (state.generation, assignment, data, state.group, expected_generation)
    return conn.execute(_REPLACE_STATE, params).rowcount > 0


class MembersMixin(SQLiteBase):
    async def upsert_member(self, member: Member) -> None:
        await self._write(put_member, member)

    async def remove_member(self, group: str, member_id: str) -> bool:
        return await self._write(delete_member, group, member_id)

    async def list_members(self, group: str) -> list[Member]:
        return await self._read(members_of, group)

    async def get_group_state(self, group: str) -> GroupState | None:
        return await self._read(state_of, group)

    async def put_group_state(self, state: GroupState, *, expected_generation: int | None) -> bool:
        return await self._write(put_state, state, expected_generation)
