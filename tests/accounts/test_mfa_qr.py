"""MFA enrolment shows a QR code of the otpauth:// URL, drawn on the server (inline SVG)."""

import html

import pytest

from dlqadmin.accounts.mfa import qr_svg
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db


def test_setup_page_has_a_qr_code_of_the_key_being_enrolled(client, roles):
    sign_in(client, make_user("pv", ("payload_viewer", ["payments"])), verified=False)
    page = client.get("/account/mfa/setup/").content.decode()
    url = html.unescape(page.split("open this link on the phone: <code>")[1].split("</code>")[0])
    assert url.startswith("otpauth://totp/")
    svg = qr_svg(url)
    assert svg.startswith('<svg width="') and 'class="qr"' in svg and "style" not in svg and "<script" not in svg
    assert svg in page  # the code on the page is of this very URL
