"""Template tags that write markup in Python give what the template loops they replaced gave."""

from django.template import engines
from hypothesis import given, settings
from hypothesis import strategies as st

LOOP = ('{% for c in choices %}<option value="{{ c }}"{% if c == selected %} selected{% endif %}>{{ c }}</option>'
        '{% endfor %}')
TAG = "{% load dlq %}{% options choices selected %}"

values = st.one_of(st.integers(min_value=-5, max_value=10**6),
                   st.text(max_size=12), st.sampled_from(['<b>"x"</b>', "a&b", "x' y", "archived"]))


@settings(deadline=None, max_examples=200)
@given(st.lists(values, max_size=8), values)
def test_options_tag_is_the_loop(choices, selected):
    engine = engines.all()[0]
    context = {"choices": choices, "selected": selected}
    assert engine.from_string(TAG).render(context) == engine.from_string(LOOP).render(context)
