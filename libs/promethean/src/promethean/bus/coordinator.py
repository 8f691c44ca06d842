"""The group coordinator: membership of partitioned groups, sticky balanced
assignment per generation, and cooperative rebalancing with fencing.

Partitions move in two steps. The coordinator first revokes only the
partitions whose owner changes; the old owner stops fetching them, settles
its in-flight work and confirms; only then does the new owner receive them.
A partition is therefore never held by two members at once, and members that
keep their partitions are never paused. A member that does not confirm (or
heartbeat) within the session timeout is removed; its later acks are refused
with ``stale_generation``.

Delivery itself stays in the engine: each member holds one engine
subscription per topic whose ``partitions`` the coordinator narrows and widens.
State is mirrored to the store (members, generation, assignment, log) for
``GET /groups/{group}`` and for a broker that takes over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from promethean.assignment import assign_group
from promethean.bus.engine import BusEngine
from promethean.bus.fetchers import Fetchers
from promethean.bus.members import GroupView, LinkIndex, Member, MemberLink, Partitions
from promethean.bus.subscription import StartKind, StartPosition
from promethean.errors import FrameError, NotOwnerError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean.store.records import GroupState
from promethean.store.records import Member as MemberRecord

log = logging.getLogger("promethean.bus.coordinator")

MSG_NOT_MEMBER = "{member} is not a live member of {group} (fenced or removed); JOIN again"
MSG_NOT_OWNER = "{member} does not own {topic}/{partition} in {group}"
MSG_OLD_GENERATION = "generation {got} is older than {need} for {topic}/{partition} in {group}"


def _stale(msg: str) -> FrameError:
    return FrameError(msg, code=ErrorCode.STALE_GENERATION)


class Coordinator:
    def __init__(self, engine: BusEngine, *, heartbeat_ms: int, session_timeout_ms: int) -> None:
        self.engine = engine
        self.heartbeat_ms = heartbeat_ms
        self.session_timeout_ms = session_timeout_ms
        self._groups: dict[str, GroupView] = {}
        self._links = LinkIndex()
        """consumer id → (group, member id) → the members that link speaks for."""
        self.fetchers = Fetchers(engine)
        """Members fetching partitions this broker owns from another coordinator."""

    @property
    def now_ms(self) -> int:
        return self.engine.clock.now_ms()

    def group(self, name: str) -> GroupView | None:
        return self._groups.get(name)

    # -- frames ------------------------------------------------------------

    async def join(self, link: MemberLink, frame: bf.Join) -> None:
        view = await self._view(frame.group)
        async with view.lock:
            now = self.now_ms
            topics = sorted(set(frame.topics))
            member = view.members.get(frame.member_id)
            if member is None and frame.instance_id is not None:
                member = view.by_instance(frame.instance_id, topics)
                if member is not None:
                    # Static membership: the restarted instance takes over.
                    del view.members[member.member_id]
                    await self.engine.store.remove_member(view.name, member.member_id)
                    if member.link is not None:
                        self._links.drop(member.link.consumer_id, view.name, member.member_id)
                    member.member_id = frame.member_id
                    view.members[member.member_id] = member
            if member is not None and member.topics == topics:
                member.expires_at_ms = now + self.session_timeout_ms
                member.max_inflight = frame.max_inflight
                member.ack_timeout_ms = frame.ack_timeout_ms
                await self._attach(view, member, link)
                await self._persist(view, [member])
                self._send_assignment(view, member, frame.corr)
                if any(member.revoking.values()):
                    self._send_revoke(view, member)
                return
            if member is not None:
                await self._remove(view, member)
            member = Member(
                member_id=frame.member_id,
                topics=topics,
                expires_at_ms=now + self.session_timeout_ms,
                instance_id=frame.instance_id,
                max_inflight=frame.max_inflight,
                ack_timeout_ms=frame.ack_timeout_ms,
            )
            view.members[member.member_id] = member
            await self._attach(view, member, link)
            await self._rebalance(view, reply_to=(member, frame.corr))

    async def heartbeat(self, link: MemberLink, frame: bf.Heartbeat) -> None:
        view = self._groups.get(frame.group)
        member = self._links.get(link.consumer_id, frame.group, frame.member_id)
        if view is None or member is None:
            raise _stale(MSG_NOT_MEMBER.format(member=frame.member_id, group=frame.group))
        member.expires_at_ms = self.now_ms + self.session_timeout_ms

    async def revoked(self, link: MemberLink, frame: bf.Revoked) -> None:
        view = self._groups.get(frame.group)
        member = self._links.get(link.consumer_id, frame.group, frame.member_id)
        if view is None or member is None:
            raise _stale(MSG_NOT_MEMBER.format(member=frame.member_id, group=frame.group))
        async with view.lock:
            confirmed = {t: set(ps) for t, ps in frame.partitions.items()}
            await self._finish_revoke(view, member, confirmed)
            await self._grant(view)

    async def leave(self, link: MemberLink, frame: bf.Leave) -> None:
        view = self._groups.get(frame.group)
        member = self._links.get(link.consumer_id, frame.group, frame.member_id)
        if view is None or member is None:
            return  # already gone: leaving twice is harmless
        async with view.lock:
            await self._remove(view, member)
            await self._rebalance(view)

    def check_settle(
        self, consumer_id: str, topic: str, group: str, partition: int, generation: int | None
    ) -> None:
        """Raise ``stale_generation`` unless the sender may ack/nack/modack
        this partition: a live member holding it, with a generation no older
        than the one it received the partition in. Groups that are not
        partitioned are not checked; a connection that fetches the group's
        topic from this broker is checked by its fetch."""
        fetch = self.fetchers.fetch_of(consumer_id, group, topic)
        if fetch is not None:
            self.fetchers.check_settle(fetch, topic, group, partition, generation)
            return
        view = self._groups.get(group)
        if view is None:
            return
        member = self._links.reading(consumer_id, group, topic)
        if member is None or view.members.get(member.member_id) is not member:
            raise _stale(MSG_NOT_MEMBER.format(member=consumer_id, group=group))
        if not member.holds(topic, partition):
            raise _stale(
                MSG_NOT_OWNER.format(
                    member=member.member_id, topic=topic, partition=partition, group=group
                )
            )
        need = member.since.get((topic, partition), 0)
        if generation is not None and generation < need:
            raise _stale(
                MSG_OLD_GENERATION.format(
                    got=generation, need=need, topic=topic, partition=partition, group=group
                )
            )

    # -- connection events and timers --------------------------------------

    async def link_lost(self, link: MemberLink) -> None:
        """The member's connection is gone. It stays a member until its
        session times out (it may come back); partitions it was revoking are
        released now since it can settle nothing more."""
        self.fetchers.link_lost(link.consumer_id)
        for group, member in self._links.pop_link(link.consumer_id):
            view = self._groups.get(group)
            if view is None or member.link is not link:
                continue
            async with view.lock:
                member.link = None
                member.subs.clear()
                if any(member.revoking.values()):
                    await self._finish_revoke(view, member, member.revoking)
                    await self._grant(view)

    async def expire(self) -> int:
        """Remove members whose session or revoke deadline passed, and
        rebalance groups whose topics changed partition count; returns how
        many members were removed."""
        removed = 0
        now = self.now_ms
        for view in list(self._groups.values()):
            if await self.moved_elsewhere(view.name) is not None:
                await self.step_down(view.name)
                continue
            async with view.lock:
                gone = [
                    m
                    for m in view.members.values()
                    if m.expires_at_ms <= now
                    or (m.revoke_deadline_ms is not None and m.revoke_deadline_ms <= now)
                ]
                for member in gone:
                    log.warning(
                        "removing member",
                        extra={"group": view.name, "member": member.member_id},
                    )
                    await self._remove(view, member)
                removed += len(gone)
                if gone or await self._counts_changed(view):
                    await self._rebalance(view)
        return removed

    async def moved_elsewhere(self, group: str) -> NotOwnerError | None:
        """The refusal naming the broker that owns ``group``'s coordinating
        partition (partition 0 of the first of its topics by name) when that
        is another live broker: a handoff, or this broker was presumed dead.
        None while this broker holds it, nobody else does, or without grants."""
        grants = self.engine.grants
        view = self._groups.get(group)
        if grants is None or view is None or not view.members:
            return None
        topic = min(t for member in view.members.values() for t in member.topics)
        if grants.token(topic, 0) is not None:
            return None
        refusal = await grants.not_owner(topic, 0)
        return refusal if refusal.owner_id is not None else None

    async def step_down(self, group: str) -> None:
        """Another broker coordinates ``group`` now (it owns the group's
        coordinating partition): forget the group here, its members'
        deliveries included, without writing the store, which the new
        coordinator keeps. The members JOIN there again."""
        view = self._groups.pop(group, None)
        if view is None:
            return
        async with view.lock:
            log.warning("no longer the group's coordinator", extra={"group": group})
            for member in list(view.members.values()):
                link = member.link
                if link is not None:
                    self._links.drop(link.consumer_id, group, member.member_id)
                    for topic in list(member.subs):
                        await self.engine.unsubscribe(link.consumer_id, topic, group)
                member.subs.clear()
                member.link = None
            view.members.clear()

    # -- internals ---------------------------------------------------------

    async def _view(self, name: str) -> GroupView:
        view = self._groups.get(name)
        if view is None:
            view = GroupView(name)
            state = await self.engine.store.get_group_state(name)
            if state is not None:
                # Generations stay monotonic across a broker takeover.
                view.generation = state.generation
                view.stored_generation = state.generation
                view.target = state.assignment
            view = self._groups.setdefault(name, view)
        return view

    async def _attach(self, view: GroupView, member: Member, link: MemberLink) -> None:
        """Point ``member``'s deliveries at ``link`` (new or returning)."""
        if member.link is not None and member.link is not link:
            old = member.link
            self._links.drop(old.consumer_id, view.name, member.member_id)
            for topic in list(member.subs):
                await self.engine.unsubscribe(old.consumer_id, topic, view.name)
            member.subs.clear()
        member.link = link
        self._links.add(link.consumer_id, view.name, member)
        for topic in member.topics:
            if topic in member.subs:
                continue
            sub, _ = await self.engine.subscribe(
                link,
                topic,
                view.name,
                start=StartPosition(StartKind.EARLIEST),
                max_inflight=member.max_inflight,
                ack_timeout_ms=member.ack_timeout_ms,
                partitions=frozenset(member.owned.get(topic, ())),
                generation=member.generation,
            )
            member.subs[topic] = sub

    async def _remove(self, view: GroupView, member: Member) -> None:
        view.members.pop(member.member_id, None)
        link = member.link
        if link is not None:
            self._links.drop(link.consumer_id, view.name, member.member_id)
            for topic in list(member.subs):
                await self.engine.unsubscribe(link.consumer_id, topic, view.name)
        member.subs.clear()
        member.link = None
        await self.engine.store.remove_member(view.name, member.member_id)

    async def _counts_changed(self, view: GroupView) -> bool:
        for topic, count in (await self._partition_counts(view)).items():
            planned = sum(len(ps.get(topic, ())) for ps in view.target.values())
            if view.members and planned != count:
                return True
        return False

    async def _partition_counts(self, view: GroupView) -> dict[str, int]:
        topics = {t for m in view.members.values() for t in m.topics}
        now = self.now_ms
        return {t: (await self.engine.topics.ensure(t, now)).partitions for t in sorted(topics)}

    async def _rebalance(
        self, view: GroupView, *, reply_to: tuple[Member, str | int | None] | None = None
    ) -> None:
        """New generation: revoke what moves, grant what is free, tell everyone."""
        counts = await self._partition_counts(view)
        members = {m.member_id: m.topics for m in view.members.values()}
        previous = {m: view.target.get(m, {}) for m in members}
        view.target = assign_group(members, counts, previous)
        view.generation += 1
        now = self.now_ms
        revoking: list[Member] = []
        for member in view.members.values():
            member.generation = view.generation
            give = False
            for topic in member.topics:
                want = set(view.target[member.member_id].get(topic, ()))
                owned = member.owned.setdefault(topic, set())
                moving = owned - want
                if moving:
                    owned -= moving
                    member.revoking.setdefault(topic, set()).update(moving)
                    give = True
            if give:
                member.revoke_deadline_ms = now + self.session_timeout_ms
                revoking.append(member)
            self._narrow(view, member)
        log.info(
            "rebalance",
            extra={"group": view.name, "generation": view.generation, "members": len(members)},
        )
        for member in revoking:
            self._send_revoke(view, member)
        await self._grant(view, announce_all=True, reply_to=reply_to)

    async def _finish_revoke(self, view: GroupView, member: Member, parts: Partitions) -> None:
        """The member gave ``parts`` up: take back leftovers, commit, forget."""
        for topic, partitions in parts.items():
            mine = member.revoking.get(topic, set()) & set(partitions)
            if not mine:
                continue
            sub = member.subs.get(topic)
            if sub is not None:
                await self.engine.release_partitions(sub, frozenset(mine))
            else:
                state = self.engine.group(view.name, topic)
                if state is not None:
                    await self.engine.flush_commits()
            member.revoking[topic] -= mine
            for partition in mine:
                member.since.pop((topic, partition), None)
        if not any(member.revoking.values()):
            member.revoke_deadline_ms = None

    async def _grant(
        self,
        view: GroupView,
        *,
        announce_all: bool = False,
        reply_to: tuple[Member, str | int | None] | None = None,
    ) -> None:
        """Give every free partition of the plan to its planned owner."""
        changed: list[Member] = []
        for member in view.members.values():
            plan = view.target.get(member.member_id, {})
            gained = False
            for topic in member.topics:
                for partition in plan.get(topic, ()):
                    if view.holder(topic, partition) is None:
                        member.owned.setdefault(topic, set()).add(partition)
                        member.since[(topic, partition)] = view.generation
                        gained = True
            if gained:
                self._narrow(view, member)
            if gained or announce_all:
                changed.append(member)
        if changed:
            view.record(self.now_ms)
        # Stored before anyone is told, so a partition's owner can check a
        # member's FETCH against what the member was told (fetchers.py).
        await self._persist(view, list(view.members.values()))
        for member in changed:
            corr = reply_to[1] if reply_to is not None and reply_to[0] is member else None
            self._send_assignment(view, member, corr)
        if reply_to is not None and reply_to[0] not in changed:
            self._send_assignment(view, reply_to[0], reply_to[1])

    def _narrow(self, view: GroupView, member: Member) -> None:
        """Make the member's engine subscriptions fetch exactly what it owns."""
        for topic, sub in member.subs.items():
            sub.partitions = frozenset(member.owned.get(topic, ()))
            sub.generation = member.generation
            state = self.engine.group(view.name, topic)
            if state is not None:
                state.generation = view.generation
                state.wake()

    def _send_assignment(self, view: GroupView, member: Member, corr: str | int | None) -> None:
        if member.link is None:
            return
        revoke = Member.wire(member.revoking, member.topics)
        member.link.send_membership(
            bf.Assignment(
                corr=corr,
                group=view.name,
                member_id=member.member_id,
                generation=member.generation,
                partitions=Member.wire(member.owned, member.topics),
                revoke=revoke if any(revoke.values()) else None,
                heartbeat_ms=self.heartbeat_ms,
                session_timeout_ms=self.session_timeout_ms,
            )
        )

    def _send_revoke(self, view: GroupView, member: Member) -> None:
        if member.link is None:
            return
        member.link.send_membership(
            bf.Revoke(
                group=view.name,
                member_id=member.member_id,
                generation=member.generation,
                partitions={t: sorted(ps) for t, ps in member.revoking.items() if ps},
            )
        )

    async def _persist(self, view: GroupView, members: Iterable[Member]) -> None:
        store = self.engine.store
        for member in members:
            if view.members.get(member.member_id) is not member:
                continue
            await store.upsert_member(
                MemberRecord(
                    group=view.name,
                    member_id=member.member_id,
                    topics=member.topics,
                    expires_at_ms=member.expires_at_ms,
                    instance_id=member.instance_id,
                    generation=member.generation,
                    data={
                        "owned": Member.wire(member.owned, member.topics),
                        "revoking": Member.wire(member.revoking, member.topics),
                        "connected": member.link is not None,
                    },
                )
            )
        state = GroupState(
            group=view.name,
            generation=view.generation,
            assignment=view.target,
            data={"log": list(view.log)},
        )
        if await store.put_group_state(state, expected_generation=view.stored_generation):
            view.stored_generation = view.generation
        else:
            log.warning("group state CAS lost", extra={"group": view.name})
            current = await store.get_group_state(view.name)
            if (
                current is not None
                and current.generation <= view.generation
                and await store.put_group_state(state, expected_generation=current.generation)
            ):
                view.stored_generation = view.generation
