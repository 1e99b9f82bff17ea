"""The fake server's HTML parse mode on the edge cases a bot's markup can run into.

Offsets and lengths are in UTF-16 code units, so every case with astral characters (emoji)
checks that they count twice; byte offsets in errors are UTF-8 bytes of the source.
"""

from __future__ import annotations

import pytest

from fake_telegram.html import HtmlParseError, parse_html, strip_text


def bold(offset: int, length: int) -> dict[str, object]:
    return {"type": "bold", "offset": offset, "length": length}


def italic(offset: int, length: int) -> dict[str, object]:
    return {"type": "italic", "offset": offset, "length": length}


def link(offset: int, length: int, url: str) -> dict[str, object]:
    return {"type": "text_link", "offset": offset, "length": length, "url": url}


@pytest.mark.parametrize(
    ("source", "text", "entities"),
    [
        ("", "", []),
        ("plain text only", "plain text only", []),
        ("😀<b>x😀y</b> z", "😀x😀y z", [bold(2, 4)]),
        (
            "x" * 50 + "<b>" + "😀" * 10 + "</b>" + "я" * 20,
            "x" * 50 + "😀" * 10 + "я" * 20,
            [bold(50, 20)],
        ),
        (
            "<b>a<i>b<u>c</u></i></b><s>d</s>",
            "abcd",
            [
                bold(0, 3),
                italic(1, 2),
                {"type": "underline", "offset": 2, "length": 1},
                {"type": "strikethrough", "offset": 3, "length": 1},
            ],
        ),
        ("<b>outer <i>inner</i> tail</b>", "outer inner tail", [bold(0, 16), italic(6, 5)]),
        # Same span: the longer first, then bold before italic whatever the nesting.
        ("<i><b>same</b></i>", "same", [bold(0, 4), italic(0, 4)]),
        ("<b>a</b><i>a</i>", "aa", [bold(0, 1), italic(1, 1)]),
        ("<B>loud</B> <STRONG>x</strong>", "loud x", [bold(0, 4), bold(5, 1)]),
        # Spaces before ">" of an end tag, and the nameless end tag closing the last one.
        ("<b>x</b > <i>y</>", "x y", [bold(0, 1), italic(2, 1)]),
        # An empty element gives no entity; one covering a space does.
        ("<b></b>empty<i> </i>", "empty ", [italic(5, 1)]),
        ("<b\tfoo='1'   bar=\"2\">attrs</b>", "attrs", [bold(0, 5)]),
        ("<i>line\nbreak</i>\r\n\ttab", "line\nbreak\r\n\ttab", [italic(0, 10)]),
        ("\x00<b>nul</b>", "\x00nul", [bold(1, 3)]),
        ("a\x00<b\x00>x</b>", "a\x00x", [bold(2, 1)]),
        # Character references: named ones only in lower case, numeric ones with or
        # without ";", an upper-case X is not hexadecimal, anything else stays literal.
        ("&amp;&lt;&gt;&quot; &#128512; &#x1F600;! &#X41; &#65", '&<>" 😀 😀! &#X41; A', []),
        (
            "&#0; &#x10FFFF; &#x10FFFE; &#12345678901; &amp &AMP; &nbsp; & x &; &#; &#x;",
            "&#0; &#x10FFFF; \U0010fffe &#12345678901; & &AMP; &nbsp; & x &; &#; &#x;",
            [],
        ),
        ("<b>&#128512;&amp;</b>&lt;", "😀&<", [bold(0, 3)]),
        ("<code>a &lt;b&gt; c</code>", "a <b> c", [{"type": "code", "offset": 0, "length": 7}]),
        (
            "<a>example.com</a> <a>nodot</a> <a href='https://q.org/?a=1&amp;b=2'>q</a>",
            "example.com nodot q",
            [link(0, 11, "http://example.com"), link(18, 1, "https://q.org/?a=1&b=2")],
        ),
        (
            '<a href=example.org>e</a> <a href="javascript:alert(1)">j</a> '
            '<a href="tg://user?id=1">u</a>',
            "e j u",
            [link(0, 1, "http://example.org"), link(4, 1, "tg://user?id=1")],
        ),
        (
            '<a href="mailto:a@b.c">m</a> <a href=" x.org ">s</a> <a href="a b.org">sp</a>',
            "m s sp",
            [link(0, 1, "mailto:a@b.c"), link(2, 1, "http://x.org")],
        ),
        ('<a href="x"\n>t</a>', "t", []),
        (
            '<a href="x.org"><b>bold link</b></a>',
            "bold link",
            [link(0, 9, "http://x.org"), bold(0, 9)],
        ),
        (
            '<pre>p</pre> <code>c</code> <pre><code class="language-py">x</code></pre>',
            "p c x",
            [
                {"type": "pre", "offset": 0, "length": 1},
                {"type": "code", "offset": 2, "length": 1},
                {"type": "pre", "offset": 4, "length": 1, "language": "py"},
            ],
        ),
        (
            '<code class="language-go">solo</code> <pre><code>n</code></pre>',
            "solo n",
            [
                {"type": "code", "offset": 0, "length": 4},
                {"type": "pre", "offset": 5, "length": 1},
                {"type": "code", "offset": 5, "length": 1},
            ],
        ),
        (
            '<pre><code class="language-python">x</code> y</pre>',
            "x y",
            [
                {"type": "pre", "offset": 0, "length": 3},
                {"type": "code", "offset": 0, "length": 1},
            ],
        ),
        (
            "<blockquote expandable>q</blockquote> <blockquote>r</blockquote>",
            "q r",
            [
                {"type": "expandable_blockquote", "offset": 0, "length": 1},
                {"type": "blockquote", "offset": 2, "length": 1},
            ],
        ),
        (
            '<tg-emoji emoji-id="5368324170671202286">👍</tg-emoji>',
            "👍",
            [
                {
                    "type": "custom_emoji",
                    "offset": 0,
                    "length": 2,
                    "custom_emoji_id": "5368324170671202286",
                }
            ],
        ),
        (
            '<span class="tg-spoiler">s</span> <tg-spoiler>t</tg-spoiler>',
            "s t",
            [
                {"type": "spoiler", "offset": 0, "length": 1},
                {"type": "spoiler", "offset": 2, "length": 1},
            ],
        ),
    ],
)
def test_html_text_and_entities(source, text, entities):
    assert parse_html(source) == (text, entities)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("привет <b", "Unclosed start tag at byte offset 13"),
        ("<b foo", "Unclosed start tag at byte offset 0"),
        ('<a ="x">', 'Empty attribute name in the tag "a" at byte offset 0'),
        (
            "<a href>x</a>",
            'Expected equal sign in declaration of an attribute of the tag "a" at byte offset 0',
        ),
        ("<a href=x!>y</a>", "Unexpected end of name token at byte offset 8"),
        ("<a href=", 'Unclosed start tag "a" at byte offset 0'),
        ("<a href='x", "Unclosed start tag at byte offset 0"),
        ("ёж</b", "Unexpected end tag at byte offset 4"),
        ("<b>ё</b", "Unclosed end tag at byte offset 5"),
        ("<b>ё</i >", 'Unmatched end tag at byte offset 5, expected "</b>", found "</i>"'),
        ("<b><i>x</b></i>", 'Unmatched end tag at byte offset 7, expected "</i>", found "</b>"'),
        ("<b>x</b></i>", "Unexpected end tag at byte offset 8"),
        ("😀 <zz>", 'Unsupported start tag "zz" at byte offset 5'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<a href='x.org'>", 'Can\'t find end tag corresponding to start tag "a"'),
        ('<tg-emoji emoji-id="abc">x</tg-emoji>', "Invalid custom emoji identifier specified"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
    ],
)
def test_html_errors(source, error):
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source)
    assert str(caught.value) == error


SURROGATES = (
    "Text contains invalid Unicode characters after decoding HTML entities, check for "
    "unmatched surrogate code units"
)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("&#xD800;", SURROGATES),
        ("<b>&#xDC00;</b>", SURROGATES),
        ("a\ud800b", SURROGATES),
        ("<b>\ud83d</b> x", SURROGATES),
        # As in tdlib, the markup is checked first and the decoded text after it.
        ("<b>&#xD800;", 'Can\'t find end tag corresponding to start tag "b"'),
    ],
)
def test_html_refuses_unmatched_surrogates(source, error):
    with pytest.raises(HtmlParseError) as caught:
        parse_html(source)
    assert str(caught.value) == error


@pytest.mark.parametrize(
    ("text", "entities", "stripped", "kept"),
    [
        ("   padded   ", [bold(2, 8)], "padded", [bold(0, 6)]),
        ("empty ", [italic(5, 1)], "empty", []),
        (" 😀 x ", [bold(0, 4), italic(1, 2)], "😀 x", [bold(0, 3), italic(0, 2)]),
        ("same", [bold(0, 4)], "same", [bold(0, 4)]),
    ],
)
def test_strip_text_shifts_and_clips_entities(text, entities, stripped, kept):
    assert strip_text(text, entities) == (stripped, kept)
