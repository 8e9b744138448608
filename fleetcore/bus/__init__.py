"""The bus between the single hub and its readers (proxies, REST).

``base`` holds the contract; ``memory`` is the embedded, in-process bus;
``commands_*`` carry commands to the hub and its replies back;
``redis`` (imported by name, so only a process that uses it loads redis-py)
is the scale-out bus.
"""

from fleetcore.bus.base import Bus, PublicationHandler, ResyncHandler
from fleetcore.bus.commands_base import CommandChannel, CommandHandler
from fleetcore.bus.commands_memory import InMemoryCommandChannel
from fleetcore.bus.memory import InMemoryBus
from fleetcore.settings import Settings
from fleetcore.store.archive import archived

__all__ = [
    "Bus",
    "CommandChannel",
    "CommandHandler",
    "InMemoryBus",
    "InMemoryCommandChannel",
    "PublicationHandler",
    "ResyncHandler",
    "bus_from_settings",
    "command_channel_from_settings",
]


def bus_from_settings(settings: Settings) -> Bus:
    """Redis when ``redis_url`` is set, else the in-process bus (one process only).

    Either reads retired rooms from the database, which its process must open.
    """
    if settings.redis_url:
        from fleetcore.bus.redis import RedisStreamsBus

        return RedisStreamsBus.from_settings(settings, archive=archived)
    return InMemoryBus(settings.replay_window, archive=archived)


def command_channel_from_settings(settings: Settings, consumer: str = "hub") -> CommandChannel:
    """The command channel beside :func:`bus_from_settings`; ``consumer`` names a hub in Redis."""
    if settings.redis_url:
        from fleetcore.bus.commands_redis import RedisCommandChannel

        return RedisCommandChannel(
            settings.redis_url, prefix=settings.redis_prefix, consumer=consumer
        )
    return InMemoryCommandChannel()
