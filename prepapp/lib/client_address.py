"""The address a request came from, as the service's own proxies saw it."""

from django.conf import settings


def client_ip(request) -> str:
    """The address the request came from, as the service's own proxies saw it.

    X-Forwarded-For is written by whoever sends the request, so only the entries appended by
    the TRUSTED_PROXY_COUNT proxies in front of the service can be believed: the client's
    address is the one the outermost trusted proxy added, counted from the right. With no
    trusted proxy (the default) the header is ignored and the socket's peer address is used.
    Throttles, sign-in lockouts and the audit trail all use this one answer.
    """
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "")
