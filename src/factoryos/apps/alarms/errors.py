"""The alarm package's exceptions: one root, each naming the alarm or field at fault."""

from factoryos.errors import FactoryOSError


class AlarmError(FactoryOSError):
    """Base of every alarm error."""


class RuleError(AlarmError):
    """An alarm rule definition is invalid; the message names the field."""


class UnknownAlarmError(AlarmError):
    """An operator command named an alarm the engine does not have."""


class AlarmStateError(AlarmError):
    """An operator command is not allowed in the alarm's current state."""


class AlarmsUnavailableError(AlarmError):
    """The alarm processor is starting (restoring its history) or has stopped."""
