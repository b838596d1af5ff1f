"""The channels a reminder can go out on: one Transport subclass per channel, behind one base class."""

from ..models import Reminder
from .base import Message, Outcome, Outgoing, Result, Transport
from .email import EmailTransport
from .inapp import InAppTransport
from .webpush import WebPushTransport

__all__ = ["Message", "Outcome", "Outgoing", "Result", "Transport", "for_channel"]

TRANSPORTS: dict[str, type[Transport]] = {
    Reminder.Channel.INAPP: InAppTransport,
    Reminder.Channel.EMAIL: EmailTransport,
    Reminder.Channel.PUSH: WebPushTransport,
}


def for_channel(channel: str) -> Transport:
    return TRANSPORTS[channel]()
