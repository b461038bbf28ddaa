"""The Django template backend, with one guarantee added: a rendered page is always text
a response can carry.

Queue names, task ids and types are any bytes (see core/names.py); the reader gives
them as ``str`` that may hold NUL or lone surrogates (undecodable bytes). A page that
shows such a name would fail to encode (a 500 for everyone who sees that queue). Every
render passes through ``names.showable``, which writes those characters as ``\\x00`` /
``\\xff``, the display form used everywhere else; ordinary text is returned untouched.
URLs are not affected: the path converters escape those bytes themselves.
"""

from django.template.backends.django import DjangoTemplates, Template
from django.utils.safestring import SafeString, mark_safe

from .names import showable


class ShowableTemplate(Template):
    def render(self, context=None, request=None):
        out = super().render(context, request)
        fixed = showable(out)
        if fixed is out:
            return out
        return mark_safe(fixed) if isinstance(out, SafeString) else fixed


class Backend(DjangoTemplates):
    def from_string(self, template_code):
        return ShowableTemplate(self.engine.from_string(template_code), self)

    def get_template(self, template_name):
        inner = super().get_template(template_name)
        return ShowableTemplate(inner.template, self)
