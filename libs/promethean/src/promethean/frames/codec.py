"""Text ↔ typed frames for both protocols. Pure functions, no I/O.

Parsing is one msgspec decode into the protocol's tagged union (types and
numeric ranges are enforced there), then the cheap name/size checks of
`promethean.frames.checks`. Every failure is an `InvalidFrameError` whose
``code`` is a stable `ErrorCode` and whose ``corr`` is the frame's
correlation id when the text was JSON enough to find it.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Iterable
from typing import Any, Final, TypeAlias, cast

import msgspec

from promethean import names
from promethean.errors import NotOwnerError, PrometheanError
from promethean.frames.broker import (
    BROKER_REPLY_TYPES,
    BROKER_REQUEST_TYPES,
    BrokerFrame,
    BrokerReply,
    BrokerRequest,
    Err,
    PublishedBatch,
    PublishedBatchWire,
)
from promethean.frames.checks import REQUEST_CHECKS, utf8_len
from promethean.frames.codes import KNOWN_CODES, ErrorCode, InvalidFrameError
from promethean.frames.fields import Corr
from promethean.frames.gateway import (
    GATEWAY_REPLY_TYPES,
    GATEWAY_REQUEST_TYPES,
    GatewayFrame,
    GatewayReply,
    GatewayRequest,
    GwErr,
)
from promethean.frames.nesting import exceeds_depth
from promethean.frames.routing import PartitionOwnerRef

AnyFrame: TypeAlias = BrokerRequest | BrokerReply | GatewayRequest | GatewayReply

MSG_TOO_LARGE: Final = "frame is larger than {limit} bytes"
MSG_NOT_UTF8: Final = "frame is not valid UTF-8: {detail}"
MSG_BAD_JSON: Final = "frame is not valid JSON: {detail}"
MSG_TOO_DEEP: Final = "frame nests arrays and objects deeper than {limit} levels"
MSG_NOT_OBJECT: Final = "frame must be a JSON object: {detail}"
MSG_MISSING_TYPE: Final = "frame has no `{tag}` field"
MSG_MISSING_EITHER: Final = "frame has neither `type` (broker) nor `op` (gateway)"
MSG_UNKNOWN_TYPE: Final = "unknown `{tag}`: {detail}"
MSG_MISSING_FIELD: Final = "missing required field `{field}`"
MSG_BAD_FIELD: Final = "invalid field `{field}`: {detail}"

_BROKER_TAG: Final = "type"
_GATEWAY_TAG: Final = "op"
_AT_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")
_MAX_DETAIL_CHARS: Final = 160
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]*)`")


def _decoder(types: Iterable[type[Any]]) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(functools.reduce(operator.or_, types))


_BROKER_REPLY_WIRE_TYPES: Final = tuple(
    PublishedBatchWire if cls is PublishedBatch else cls for cls in BROKER_REPLY_TYPES
)
_BROKER_REQUEST: Final = _decoder(BROKER_REQUEST_TYPES)
_BROKER_REPLY: Final = _decoder(_BROKER_REPLY_WIRE_TYPES)
_BROKER_ANY: Final = _decoder(BROKER_REQUEST_TYPES + _BROKER_REPLY_WIRE_TYPES)
_GATEWAY_REQUEST: Final = _decoder(GATEWAY_REQUEST_TYPES)
_GATEWAY_REPLY: Final = _decoder(GATEWAY_REPLY_TYPES)
_GATEWAY_ANY: Final = _decoder(GATEWAY_REQUEST_TYPES + GATEWAY_REPLY_TYPES)
_ENCODER: Final = msgspec.json.Encoder()


class _CorrProbe(msgspec.Struct):
    corr: Corr = None


_CORR_PROBE: Final = msgspec.json.Decoder(_CorrProbe)


def recover_corr(data: str | bytes) -> Corr:
    """The top-level ``corr`` of ``data`` if it is a JSON object holding a
    string or integer ``corr``; None otherwise. Used only on error paths."""
    try:
        return _CORR_PROBE.decode(data).corr
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None


def _check_size_and_encoding(data: str | bytes, max_frame_bytes: int) -> None:
    size = len(data)
    if isinstance(data, str) and size <= max_frame_bytes < size * 4 and not data.isascii():
        size = utf8_len(data)
    if size > max_frame_bytes:
        raise InvalidFrameError(
            ErrorCode.FRAME_TOO_LARGE,
            MSG_TOO_LARGE.format(limit=max_frame_bytes),
            corr=recover_corr(data),
        )
    if isinstance(data, bytes) and not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidFrameError(
                ErrorCode.BAD_JSON, MSG_NOT_UTF8.format(detail=exc.reason)
            ) from exc
    if exceeds_depth(data, names.MAX_JSON_DEPTH):
        raise InvalidFrameError(
            ErrorCode.BAD_JSON,
            MSG_TOO_DEEP.format(limit=names.MAX_JSON_DEPTH),
            corr=recover_corr(data),
        )


def _classify(text: str, tag: str) -> InvalidFrameError:
    """Map a msgspec validation message to a code, e.g.
    ``Expected `str`, got `int` - at `$.topic` `` → ``bad_field`` on ``topic``."""
    at = _AT_PATH.search(text)
    detail = text[: at.start()] if at else text
    if len(detail) > _MAX_DETAIL_CHARS:  # it may quote a client value, e.g. an unknown tag
        detail = detail[:_MAX_DETAIL_CHARS] + "…"
    path = at.group("path") if at else ""
    missing = _MISSING.match(detail)
    if path == tag:
        return InvalidFrameError(
            ErrorCode.UNKNOWN_TYPE, MSG_UNKNOWN_TYPE.format(tag=tag, detail=detail), field=tag
        )
    if missing is not None:
        name = missing.group("name")
        if not path and name == tag:
            return InvalidFrameError(ErrorCode.MISSING_TYPE, MSG_MISSING_TYPE.format(tag=tag))
        field = f"{path}.{name}" if path else name
        return InvalidFrameError(
            ErrorCode.MISSING_FIELD, MSG_MISSING_FIELD.format(field=field), field=field
        )
    if not path:
        return InvalidFrameError(ErrorCode.BAD_FRAME, MSG_NOT_OBJECT.format(detail=detail))
    return InvalidFrameError(
        ErrorCode.BAD_FIELD, MSG_BAD_FIELD.format(field=path, detail=detail), field=path
    )


def _decode(decoder: msgspec.json.Decoder[Any], data: str | bytes, tag: str) -> Any:
    try:
        return decoder.decode(data)
    except msgspec.ValidationError as exc:
        error = _classify(str(exc), tag)
        error.corr = recover_corr(data)
        raise error from exc
    except msgspec.DecodeError as exc:
        raise InvalidFrameError(ErrorCode.BAD_JSON, MSG_BAD_JSON.format(detail=exc)) from exc
    except UnicodeEncodeError as exc:
        # A str holding a lone surrogate has no UTF-8 form.
        raise InvalidFrameError(ErrorCode.BAD_JSON, MSG_NOT_UTF8.format(detail=exc.reason)) from exc
    except RecursionError as exc:
        # `exceeds_depth` refuses deep frames first; this is the backstop
        # should the interpreter's own limit ever be lower than ours.
        raise InvalidFrameError(
            ErrorCode.BAD_JSON, MSG_TOO_DEEP.format(limit=names.MAX_JSON_DEPTH)
        ) from exc


def _finish(frame: Any) -> Any:
    """Run the frame's post-decode check; resolve the wire form of replies."""
    check = REQUEST_CHECKS.get(type(frame))
    try:
        if check is not None:
            check(frame)
        elif type(frame) is PublishedBatchWire:
            return frame.resolve()
    except InvalidFrameError as error:
        error.corr = frame.corr
        raise
    return frame


def _parse(
    decoder: msgspec.json.Decoder[Any], data: str | bytes, tag: str, max_frame_bytes: int
) -> Any:
    _check_size_and_encoding(data, max_frame_bytes)
    return _finish(_decode(decoder, data, tag))


def parse_broker_request(
    data: str | bytes, *, max_frame_bytes: int = names.MAX_FRAME_BYTES
) -> BrokerRequest:
    """A frame a client sends to the broker, or `InvalidFrameError`."""
    return cast(BrokerRequest, _parse(_BROKER_REQUEST, data, _BROKER_TAG, max_frame_bytes))


def parse_broker_reply(
    data: str | bytes, *, max_frame_bytes: int = names.MAX_FRAME_BYTES
) -> BrokerReply:
    """A frame the broker sends to a client, or `InvalidFrameError`."""
    return cast(BrokerReply, _parse(_BROKER_REPLY, data, _BROKER_TAG, max_frame_bytes))


def parse_gateway_request(
    data: str | bytes, *, max_frame_bytes: int = names.MAX_FRAME_BYTES
) -> GatewayRequest:
    """A frame a client sends to the gateway, or `InvalidFrameError`."""
    return cast(GatewayRequest, _parse(_GATEWAY_REQUEST, data, _GATEWAY_TAG, max_frame_bytes))


def parse_gateway_reply(
    data: str | bytes, *, max_frame_bytes: int = names.MAX_FRAME_BYTES
) -> GatewayReply:
    """A frame the gateway sends to a client, or `InvalidFrameError`."""
    return cast(GatewayReply, _parse(_GATEWAY_REPLY, data, _GATEWAY_TAG, max_frame_bytes))


def parse_frame(data: str | bytes, *, max_frame_bytes: int = names.MAX_FRAME_BYTES) -> AnyFrame:
    """Any frame of either protocol and direction: an object with ``type`` is
    a broker frame, otherwise one with ``op`` is a gateway frame. For tools
    and tests; services know their protocol and use the specific parser."""
    _check_size_and_encoding(data, max_frame_bytes)
    try:
        frame = _decode(_BROKER_ANY, data, _BROKER_TAG)
    except InvalidFrameError as error:
        if error.code != ErrorCode.MISSING_TYPE:
            raise
        try:
            frame = _decode(_GATEWAY_ANY, data, _GATEWAY_TAG)
        except InvalidFrameError as gateway_error:
            if gateway_error.code != ErrorCode.MISSING_TYPE:
                raise
            raise InvalidFrameError(
                ErrorCode.MISSING_TYPE, MSG_MISSING_EITHER, corr=gateway_error.corr
            ) from gateway_error
    return cast(AnyFrame, _finish(frame))


def encode(frame: BrokerFrame | GatewayFrame) -> bytes:
    """The JSON text of ``frame`` (UTF-8). Payloads are written back verbatim;
    fields left at their default (None, False) are omitted."""
    return _ENCODER.encode(frame)


def _wire_code(err: PrometheanError) -> str:
    code = err.code
    return code if code in KNOWN_CODES else ErrorCode.INTERNAL.value


def _retry_after(err: PrometheanError) -> int | None:
    value = getattr(err, "retry_after_ms", None)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def _reply_corr(err: PrometheanError, corr: Corr) -> Corr:
    if corr is not None:
        return corr
    found = getattr(err, "corr", None)
    return found if isinstance(found, str | int) and not isinstance(found, bool) else None


def _owner(err: PrometheanError) -> PartitionOwnerRef | None:
    if not isinstance(err, NotOwnerError):
        return None
    if err.owner_id is None or err.owner_address is None or err.epoch is None:
        return None
    return PartitionOwnerRef(id=err.owner_id, address=err.owner_address, epoch=err.epoch)


def error_frame(err: PrometheanError, corr: Corr = None) -> Err:
    """The broker ``ERR`` answering ``err``. ``corr`` defaults to the one the
    error carries (an `InvalidFrameError` recovered from the bad frame). A code
    outside the stable list is sent as ``internal``. A `NotOwnerError` that
    names the owner sends it along."""
    return Err(
        code=_wire_code(err),
        msg=err.msg,
        retry_after_ms=_retry_after(err),
        corr=_reply_corr(err, corr),
        owner=_owner(err),
    )


def gw_error_frame(err: PrometheanError, corr: Corr = None) -> GwErr:
    """The gateway ``ERR`` answering ``err``; same rules as `error_frame`."""
    return GwErr(
        code=_wire_code(err),
        msg=err.msg,
        retry_after_ms=_retry_after(err),
        corr=_reply_corr(err, corr),
    )
