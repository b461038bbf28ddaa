"""names.showable: a whole page written as `display` writes names (NUL and undecodable
bytes as \\x00 / \\xff), whatever text it is, and ordinary text returned as it is."""

from hypothesis import given
from hypothesis import strategies as st

from dlqadmin.core.names import _UNSHOWABLE, _show, showable

# Any code point, lone surrogates and NUL included, in text of each of Python's string
# kinds (ASCII, Latin-1, UCS-2, UCS-4), as pages mix them.
texts = st.text(st.characters(codec=None, exclude_categories=()), max_size=200) | st.builds(
    lambda a, b: a + b, st.text(st.characters(max_codepoint=0xFF), max_size=100),
    st.text(st.sampled_from(["\x00", "\udcff", "\ud800", "›", "é", "\U0001f600", "a"]), max_size=5))


@given(texts)
def test_showable_is_the_regex_rewrite(text):
    assert showable(text) == _UNSHOWABLE.sub(_show, text)


def test_ordinary_text_is_the_same_object():
    for text in ("<p>plain</p>", "café · «x»", "a › b …", "emoji \U0001f600"):
        assert showable(text) is text
    assert showable("a\x00b\udcffc") == "a\\x00b\\xffc"
