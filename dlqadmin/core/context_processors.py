"""`menu` in every template rendered with a request: the main menu's links (core/links.py)."""

from . import links


def menu(request):
    return {"menu": links.menu()}
