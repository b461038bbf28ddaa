from .base import Transport, TransportError


def transport_for(channel):
    from .email import EmailTransport
    from .slack import SlackTransport
    from .webhook import WebhookTransport

    return {"slack": SlackTransport, "email": EmailTransport, "webhook": WebhookTransport}[channel.kind](channel)


__all__ = ["Transport", "TransportError", "transport_for"]
