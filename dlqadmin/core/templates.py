"""The Django template backend, with one guarantee added: a rendered page is always text
a response can carry.

Queue names, task ids and types are any bytes (see core/names.py); the reader gives
them as ``str`` that may hold NUL or lone surrogates (undecodable bytes). A page that
shows such a name would fail to encode (a 500 for everyone who sees that queue). Every
render passes through ``names.showable``, which writes those characters as ``\\x00`` /
``\\xff``, the display form used everywhere else; ordinary text is returned untouched.
URLs are not affected: the path converters escape those bytes themselves.

Each render also empties its context afterwards: Django's context and the dicts pushed on
it point at each other, so a rendered page's rows (and the payloads behind them) would
wait for the garbage collector's cycle search instead of being freed when the response
is (see core/wsgi.py).
"""

from django.template import TemplateDoesNotExist
from django.template.backends.django import DjangoTemplates, Template, reraise
from django.template.context import make_context
from django.utils.safestring import SafeString, mark_safe

from .names import showable


class ShowableTemplate(Template):
    def render(self, context=None, request=None):
        # Django's Template.render, and the context emptied once the text is made.
        context = make_context(context, request, autoescape=self.backend.engine.autoescape)
        try:
            out = self.template.render(context)
        except TemplateDoesNotExist as exc:
            reraise(exc, self.backend)
        finally:
            context.dicts.clear()
            context.render_context.dicts.clear()
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
