"""Who may publish on and read each channel, read off the channel's name.

One table for every transport: :class:`~heron.messaging.security.SecureBroker` enforces it on
each publish and on each message it receives, and :func:`redis_acl_rules` and
:func:`kafka_acl_bindings` map it onto the servers' own access control, so a process that
bypasses our code is stopped by the server too.

=====================  ===============================  ====================
channel kind           who publishes                    who reads
=====================  ===============================  ====================
``action``             the upstream (``U_to_N``: U)     the node (N)
``info``               the node (``N_to_U``: N)         the upstream (U)
``broadcast``          the agent it is named for        anyone
``state_updates``      any device (signed as itself)    the environment
``power_flow_results`` the environment                  the agent it names
``site_control``       the environment                  the agent it names
any other kind         anyone (signed as itself)        the agent it names
=====================  ===============================  ====================
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from heron.messaging.base import BROADCAST, ENVIRONMENT_ID
from heron.messaging.channels import ChannelManager

__all__ = ["parties", "may_publish", "may_read", "redis_acl_rules", "kafka_acl_bindings"]

_FROM_ENV = ("power_flow_results", "site_control")


def parties(channel: str) -> tuple[str, str | None, str | None]:
    """(kind, the one sender allowed or None for any, the one reader allowed or None for any)."""
    if ChannelManager.env_of(channel) is None:
        return "other", None, None
    parts = channel.split("__", 2)
    kind, rest = parts[1], parts[2] if len(parts) > 2 else ""
    if kind in ("action", "info"):  # both spelled <sender>_to_<reader>
        sender, sep, reader = rest.partition("_to_")
        return (kind, sender, reader) if sep else (kind, None, None)
    if kind == "broadcast":
        return kind, rest or None, None
    if kind == "state_updates":
        return kind, None, ENVIRONMENT_ID
    if kind in _FROM_ENV:
        return kind, ENVIRONMENT_ID, rest or None
    return kind, None, rest or None


def may_publish(channel: str, sender: str) -> bool:
    _, publisher, _ = parties(channel)
    return publisher is None or publisher == sender


def may_read(channel: str, recipient: str) -> bool:
    _, _, reader = parties(channel)
    return reader is None or reader == recipient


def redis_acl_rules(env_id: str, agent_id: str, devices: Iterable[str] = (), password: str | None = None) -> list[str]:
    """``ACL SETUSER <agent_id> ...`` rules for a site's Redis user under
    :class:`~heron.messaging.redis.RedisBroker`'s key scheme: it may read (and acknowledge)
    only the streams addressed to it or its devices; it may read the broadcasts through its
    own consumer group but append to (and trim) only its own broadcast stream; it may write,
    not read, its reports and its devices' state updates. Its broker must be built with
    ``max_pending=None`` (a write-only stream's length cannot be read to bound it).

    Redis 7 selectors (the parenthesised groups) carry the per-key command sets: a command is
    allowed when one of them, or the root set, allows it on all its keys."""
    from heron.messaging.redis import lease_key, marks_key, stream_key
    from heron.messaging.redis_link import EPOCH_KEY

    def any_channel_to(recipient: str) -> str:  # the stream key as an ACL glob, any channel
        return _literal(stream_key(env_id, "\0", recipient)).replace("\0", "*")

    reports = [ChannelManager.info_channel(agent_id, ENVIRONMENT_ID, env_id), ChannelManager.state_update_channel(env_id)]
    own = [f"~{any_channel_to(r)}" for r in (agent_id, *devices)]
    broadcasts, announcements = f"~{any_channel_to(BROADCAST)}", f"~{_literal(stream_key(env_id, ChannelManager.broadcast_channel(agent_id, env_id), BROADCAST))}"
    rules = ["reset", "on", f">{password}" if password else "nopass", "-@all",
             "+ping", "+hello", "+select", "+script|load", "+script|exists",
             "+evalsha", "+eval", "+xreadgroup", "+xread", "+xack", "+xdel", "+xgroup|create", "+xinfo|groups", "+xinfo|stream",
             "+xrange", "+xpending", "+xtrim", "+exists", "+xadd", "+xlen", *own]
    writes = " ".join(f"%W~{_literal(stream_key(env_id, channel, ENVIRONMENT_ID))}" for channel in reports)
    reading = "+xreadgroup +xack +xgroup|create +xinfo|groups +xinfo|stream +xrange +xpending +exists"
    epoch, lease = f"~{_literal(EPOCH_KEY)}", f"~{_literal(lease_key(env_id, agent_id))}"
    rules += [f"(+xadd {writes})",  # its reports and state updates (a stream other sites write to): append only
              f"({reading} {broadcasts})",  # others' broadcasts: through its own group only
              f"(+xadd +xtrim +xlen {reading} {announcements})",  # its own
              f"(+get %R{epoch})",  # the token of the server's data, left by an unrestricted client (the env's)
              f"(+get +set +pexpire +del {lease})",  # the claim on its identity in the env
              f"(+hgetall +hset {' '.join(f'~{_literal(marks_key(env_id, r))}' for r in (agent_id, *devices))})",  # what it acknowledged
              f"(+evalsha +eval +xread {' '.join(own)} {broadcasts} {epoch} {lease})"]  # reads and scripts over several
    return rules


def _literal(text: str) -> str:
    """``text`` as an ACL glob that matches only itself."""
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)


def kafka_acl_bindings(agent_id: str, topic_prefix: str = "heron", group_id: str = "heron", principal: str | None = None) -> list[Any]:
    """The Kafka ACLs of a site under :class:`~heron.messaging.kafka.KafkaBroker`'s topics
    (``AclBinding`` objects for ``AdminClient.create_acls``; ``principal`` defaults to
    ``User:<agent_id>``): read the kinds sent to it, write the kinds it sends, use its own
    consumer groups. Kafka's ACLs stop at the topic, and a topic carries one kind for every
    recipient, so which recipient reads a message is enforced by the signatures, not by them."""
    from confluent_kafka.admin import AclBinding, AclOperation, AclPermissionType, ResourcePatternType, ResourceType

    who = principal or f"User:{agent_id}"

    def allow(kind: ResourceType, name: str, operation: AclOperation, pattern: ResourcePatternType) -> Any:
        return AclBinding(kind, name, pattern, who, "*", operation, AclPermissionType.ALLOW)

    literal, prefixed = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
    out = [allow(ResourceType.TOPIC, f"{topic_prefix}.{kind}", AclOperation.READ, literal)
           for kind in ("action", "power_flow_results", "site_control", "broadcast")]
    out += [allow(ResourceType.TOPIC, f"{topic_prefix}.{kind}", AclOperation.WRITE, literal) for kind in ("info", "state_updates")]
    out.append(allow(ResourceType.GROUP, f"{group_id}.", AclOperation.READ, prefixed))
    return out
