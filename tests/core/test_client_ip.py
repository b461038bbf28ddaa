from django.test import RequestFactory

from dlqadmin.core.client_ip import client_ip


def test_client_ip_trusts_only_our_own_proxies(settings):
    rf = RequestFactory()
    request = rf.get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    settings.DLQADMIN_PROXY_COUNT = 0
    assert client_ip(request) == "10.0.0.1"
    settings.DLQADMIN_PROXY_COUNT = 1
    assert client_ip(request) == "203.0.113.9"  # the spoofable 6.6.6.6 is ignored
    settings.DLQADMIN_PROXY_COUNT = 3
    assert client_ip(request) == "10.0.0.1"  # fewer hops than proxies: do not guess
