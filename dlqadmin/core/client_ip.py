"""The client's address, trusting X-Forwarded-For only for the proxies we run behind."""

from django.conf import settings


def client_ip(request):
    """REMOTE_ADDR, or with DLQADMIN_PROXY_COUNT=N the address the Nth proxy from us saw.

    Only the last N entries of X-Forwarded-For were written by our own proxies; anything
    to their left is whatever the client claimed, so it is never trusted.
    """
    count = settings.DLQADMIN_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if count > 0 and forwarded:
        hops = [h.strip() for h in forwarded.split(",") if h.strip()]
        if len(hops) >= count:
            return hops[-count]
    return request.META.get("REMOTE_ADDR", "")
