"""The channels a reminder can go out on: one Transport subclass per channel, behind one base class."""

from prepapp.reminders.channels.base import Message, Outcome, Outgoing, Result, Transport
from prepapp.reminders.channels.email import EmailTransport
from prepapp.reminders.channels.inapp import InAppTransport
from prepapp.reminders.channels.webpush import WebPushTransport
from prepapp.reminders.models import Reminder

__all__ = ["Message", "Outcome", "Outgoing", "Result", "Transport", "for_channel"]

TRANSPORTS: dict[str, type[Transport]] = {
    Reminder.Channel.INAPP: InAppTransport,
    Reminder.Channel.EMAIL: EmailTransport,
    Reminder.Channel.PUSH: WebPushTransport,
}


def for_channel(channel: str) -> Transport:
    return TRANSPORTS[channel]()
