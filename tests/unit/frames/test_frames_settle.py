"""Settle verbs are an enum whose members are the strings used before."""

from __future__ import annotations

import json

from promethean.frames.settle import SettleVerb


def test_members_are_the_lower_case_verbs() -> None:
    assert [v.value for v in SettleVerb] == ["ack", "nack", "modack"]
    assert SettleVerb.NACK == "nack"
    assert str(SettleVerb.MODACK) == "modack"
    assert f"{SettleVerb.ACK}" == "ack"
    assert json.dumps({"reason": SettleVerb.NACK}) == '{"reason": "nack"}'
