"""Group members and the coordinator's group state.

Both records hold maps keyed by member ids and topic names, which come from
outside; they are stored as JSON text (with the fields the store filters on
beside it) so no such name ever becomes a BSON field name.
"""

from __future__ import annotations

from typing import Final

from pymongo import ASCENDING
from pymongo.errors import DuplicateKeyError

from promethean.store.mongo.base import MongoBase
from promethean.store.mongo.codecs import from_json_text, json_text
from promethean.store.mongo.collections import GROUP_MEMBERS, GROUP_STATE
from promethean.store.mongo.connection import Document
from promethean.store.mongo.errors import translated
from promethean.store.records import GroupState, Member

RECORD: Final = "record"


def _member_document(member: Member) -> Document:
    return {
        "group": member.group,
        "member_id": member.member_id,
        "expires_at_ms": member.expires_at_ms,
        "generation": member.generation,
        RECORD: json_text(member),
    }


class GroupMembership(MongoBase):
    @translated
    async def upsert_member(self, member: Member) -> None:
        async with self._read_modify_write():
            members = self._col(GROUP_MEMBERS)
            where = {"group": member.group, "member_id": member.member_id}
            try:
                await members.replace_one(where, _member_document(member), upsert=True)
            except DuplicateKeyError:  # a concurrent first upsert inserted it
                await members.replace_one(where, _member_document(member))

    @translated
    async def remove_member(self, group: str, member_id: str) -> bool:
        result = await self._col(GROUP_MEMBERS).delete_one({"group": group, "member_id": member_id})
        return result.deleted_count == 1

    @translated
    async def list_members(self, group: str) -> list[Member]:
        cursor = self._col(GROUP_MEMBERS).find({"group": group}).sort("member_id", ASCENDING)
        return [from_json_text(doc[RECORD], Member) async for doc in cursor]

    @translated
    async def get_group_state(self, group: str) -> GroupState | None:
        doc = await self._col(GROUP_STATE).find_one({"_id": group})
        return None if doc is None else from_json_text(doc[RECORD], GroupState)

    @translated
    async def put_group_state(self, state: GroupState, *, expected_generation: int | None) -> bool:
        async with self._read_modify_write():
            states = self._col(GROUP_STATE)
            fields = {"generation": state.generation, RECORD: json_text(state)}
            if expected_generation is None:
                try:
                    await states.insert_one({"_id": state.group, **fields})
                except DuplicateKeyError:
                    return False
                return True
            result = await states.update_one(
                {"_id": state.group, "generation": expected_generation}, {"$set": fields}
            )
            return result.matched_count == 1
