"""Telegram's HTML parse mode: markup in, plain text plus message entities out.

The parser follows the algorithm of Telegram's own one (tdlib's ``parse_html``) rather than a
general HTML parser, because the point is to fail on exactly the inputs Telegram rejects, with
the same words, and to accept the sloppy inputs it accepts (a bare ``&`` stays a literal ``&``).
Offsets and lengths of entities are counted in UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["HtmlParseError", "parse_html", "strip_text", "utf16_len"]

_SUPPORTED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "tg-spoiler",
        "span",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_PLAIN_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
# Telegram sorts entities that start at the same offset by length, then by this priority.
_PRIORITY = {
    "blockquote": 0,
    "expandable_blockquote": 0,
    "pre": 11,
    "code": 20,
    "text_link": 49,
    "bold": 90,
    "italic": 91,
    "underline": 92,
    "strikethrough": 93,
    "spoiler": 94,
    "custom_emoji": 99,
}
_SPACES = " \t\r\n\v\f\0"
# Text between markup is taken a whole run at a time: a Python step per character made parsing
# the fake server's main cost, paid by any bot that shares its process (tests, benchmarks).
_TEXT_RUN = re.compile(r"[^<&]+")
_TAG_NAME_END = re.compile(r"[ \t\r\n\v\f\x00>]")
_NON_SPACE = re.compile(r"[^ \t\r\n\v\f\x00]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_URL_SCHEMES = ("http://", "https://", "tg://", "ton://", "tonsite://", "mailto:")


class HtmlParseError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's own wording."""


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    utf16_offset: int
    text_offset: int


def utf16_len(text: str) -> int:
    """Length of ``text`` in UTF-16 code units, the unit of Bot API entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse Telegram HTML into ``(text, entities)`` or raise :class:`HtmlParseError`."""
    return _HtmlParser(source).run()


def strip_text(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does before storing a message.

    Entities are shifted and clipped so that they still cover the same characters; entities
    that covered only whitespace disappear.
    """
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    result = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            result.append({**entity, "offset": start, "length": end - start})
    return stripped, result


class _HtmlParser:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.out: list[str] = []
        self.utf16 = 0
        self.length = 0
        self.stack: list[_OpenTag] = []
        self.entities: list[dict[str, Any]] = []

    def run(self) -> tuple[str, list[dict[str, Any]]]:
        src = self.src
        while self.pos < len(src):
            text = _TEXT_RUN.match(src, self.pos)
            if text is not None:
                self._emit(text.group())
                self.pos = text.end()
            elif src[self.pos] == "&":
                if not self._entity_reference():
                    self._emit("&")
                    self.pos += 1
            elif src.startswith("/", self.pos + 1):
                self._end_tag()
            else:
                self._start_tag()
        if self.stack:
            name = self.stack[-1].name
            raise HtmlParseError(f'Can\'t find end tag corresponding to start tag "{name}"')
        for entity in self.entities:
            if entity["type"] == "code":
                entity.pop("language", None)
        text = "".join(self.out)
        if not text.isascii() and _SURROGATE.search(text):
            raise HtmlParseError(
                "Text contains invalid Unicode characters after decoding HTML entities, "
                "check for unmatched surrogate code units"
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"], _PRIORITY.get(e["type"], 50)))
        return text, self.entities

    # -- helpers -----------------------------------------------------------------------------

    def _at(self, index: int) -> str:
        # An empty string plays the role of the terminating NUL that tdlib's loops rely on.
        return self.src[index] if index < len(self.src) else ""

    def _byte_offset(self, index: int) -> int:
        return len(self.src[:index].encode("utf-8", "surrogatepass"))

    def _emit(self, chars: str) -> None:
        self.out.append(chars)
        self.length += len(chars)
        if chars.isascii():
            self.utf16 += len(chars)
        else:
            # "surrogatepass": a lone surrogate (from "&#xD800;" or a JSON body) counts one
            # unit here and is refused with Telegram's words once the whole text is known.
            self.utf16 += len(chars.encode("utf-16-le", "surrogatepass")) // 2

    def _is_space(self, index: int) -> bool:
        char = self._at(index)
        return char != "" and char in _SPACES

    def _entity_reference(self) -> bool:
        decoded = decode_entity(self.src, self.pos)
        if decoded is None:
            return False
        char, self.pos = decoded
        self._emit(char)
        return True

    # -- tags --------------------------------------------------------------------------------

    def _start_tag(self) -> None:
        begin = self.pos
        name_end = _TAG_NAME_END.search(self.src, begin + 1)
        if name_end is None:
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        i = name_end.start()
        name = self.src[begin + 1 : i].lower()
        if name not in _SUPPORTED_TAGS:
            raise HtmlParseError(
                f'Unsupported start tag "{name}" at byte offset {self._byte_offset(begin)}'
            )
        argument = ""
        if self.src[i] != ">":
            argument, i = self._attributes(name, begin, i)
        if name == "span" and argument != "spoiler":
            raise HtmlParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {self._byte_offset(begin)}'
            )
        self.stack.append(_OpenTag(name, argument, self.utf16, self.length))
        self.pos = i + 1

    def _attributes(self, tag: str, begin: int, i: int) -> tuple[str, int]:
        """Read attributes up to the closing ``>``; return the one Telegram cares about."""
        argument = ""
        while self._at(i) != ">":
            while self._is_space(i):
                i += 1
            if self._at(i) == ">":
                break
            name_begin = i
            while self._at(i) and not self._is_space(i) and self._at(i) not in "=>":
                i += 1
            name = self.src[name_begin:i]
            if not self._at(i):
                raise HtmlParseError(
                    f"Unclosed start tag at byte offset {self._byte_offset(begin)}"
                )
            if not name:
                raise HtmlParseError(
                    f'Empty attribute name in the tag "{tag}" at byte offset '
                    f"{self._byte_offset(begin)}"
                )
            while self._is_space(i):
                i += 1
            if self._at(i) != "=":
                if tag == "blockquote" and name == "expandable":
                    argument = "1"
                    continue
                raise HtmlParseError(
                    f'Expected equal sign in declaration of an attribute of the tag "{tag}" at '
                    f"byte offset {self._byte_offset(begin)}"
                )
            value, i = self._attribute_value(tag, begin, i + 1)
            argument = _tag_argument(tag, name, value, argument)
        return argument, i

    def _attribute_value(self, tag: str, begin: int, i: int) -> tuple[str, int]:
        while self._is_space(i):
            i += 1
        if not self._at(i):
            raise HtmlParseError(
                f'Unclosed start tag "{tag}" at byte offset {self._byte_offset(begin)}'
            )
        quote = self._at(i)
        if quote not in "'\"":
            # An unquoted value is a name token: letters, digits, periods and hyphens.
            token_begin = i
            while self._at(i) and (self._at(i).isalnum() or self._at(i) in ".-"):
                i += 1
            if not self._is_space(i) and self._at(i) != ">":
                raise HtmlParseError(
                    f"Unexpected end of name token at byte offset {self._byte_offset(token_begin)}"
                )
            return self.src[token_begin:i].lower(), i
        close = self.src.find(quote, i + 1)
        if close < 0:
            raise HtmlParseError(f"Unclosed start tag at byte offset {self._byte_offset(begin)}")
        # A character reference never takes in a quote, so the value can be decoded apart.
        return _decode_references(self.src[i + 1 : close]), close + 1

    def _end_tag(self) -> None:
        begin = self.pos
        if not self.stack:
            raise HtmlParseError(f"Unexpected end tag at byte offset {self._byte_offset(begin)}")
        name_end = _TAG_NAME_END.search(self.src, begin + 2)
        i = len(self.src) if name_end is None else name_end.start()
        end_name = self.src[begin + 2 : i].lower()
        if i < len(self.src) and self.src[i] != ">":
            after_spaces = _NON_SPACE.search(self.src, i)
            i = len(self.src) if after_spaces is None else after_spaces.start()
        if self._at(i) != ">":
            raise HtmlParseError(f"Unclosed end tag at byte offset {self._byte_offset(begin)}")
        open_tag = self.stack.pop()
        if end_name and end_name != open_tag.name:
            raise HtmlParseError(
                f"Unmatched end tag at byte offset {self._byte_offset(begin)}, expected "
                f'"</{open_tag.name}>", found "</{end_name}>"'
            )
        if self.utf16 > open_tag.utf16_offset:
            self._add_entity(open_tag)
        self.pos = i + 1

    def _add_entity(self, tag: _OpenTag) -> None:
        offset, length = tag.utf16_offset, self.utf16 - tag.utf16_offset
        span = {"offset": offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and last["offset"] == offset and last["length"] == length
        if tag.name in _PLAIN_ENTITY:
            self.entities.append({"type": _PLAIN_ENTITY[tag.name], **span})
        elif tag.name == "a":
            url = _normalize_url(tag.argument or "".join(self.out)[tag.text_offset :])
            if url is not None:  # Telegram silently drops links it cannot parse.
                self.entities.append({"type": "text_link", **span, "url": url})
        elif tag.name == "tg-emoji":
            if not tag.argument.isdigit():
                raise HtmlParseError("Invalid custom emoji identifier specified")
            self.entities.append({"type": "custom_emoji", **span, "custom_emoji_id": tag.argument})
        elif tag.name == "blockquote":
            kind = "expandable_blockquote" if tag.argument else "blockquote"
            self.entities.append({"type": kind, **span})
        elif tag.name == "pre":
            if same_span and last and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                self.entities.append({"type": "pre", **span})
        elif tag.name == "code":
            if same_span and last and last["type"] == "pre" and tag.argument:
                last["language"] = tag.argument
            elif tag.argument:
                # Kept for a moment so that an enclosing <pre> can take the language over.
                self.entities.append({"type": "code", **span, "language": tag.argument})
            else:
                self.entities.append({"type": "code", **span})


def decode_entity(source: str, pos: int) -> tuple[str, int] | None:
    """Decode the character reference at ``source[pos] == '&'``; None if it is not one."""
    end = pos + 1
    if source.startswith("#", end):
        end += 1
        hexadecimal = source.startswith("x", end)
        end += hexadecimal
        digits_begin = end
        allowed = "0123456789abcdefABCDEF" if hexadecimal else "0123456789"
        while end < len(source) and source[end] in allowed:
            end += 1
        digits = source[digits_begin:end]
        value = int(digits, 16 if hexadecimal else 10) if digits else 0
        if value == 0 or value >= 0x10FFFF or end - pos >= 10:
            return None
        char = chr(value)
    else:
        while end < len(source) and source[end].isascii() and source[end].isalpha():
            end += 1
        named = _NAMED_ENTITIES.get(source[pos + 1 : end])
        if named is None:
            return None
        char = named
    if source.startswith(";", end):
        end += 1
    return char, end


def _decode_references(text: str) -> str:
    """Decode the character references in an attribute value; a stray ``&`` stays as it is."""
    parts: list[str] = []
    start = 0
    amp = text.find("&")
    while amp >= 0:
        decoded = decode_entity(text, amp)
        if decoded is None:
            amp = text.find("&", amp + 1)
            continue
        parts += (text[start:amp], decoded[0])
        start = decoded[1]
        amp = text.find("&", start)
    parts.append(text[start:])
    return "".join(parts)


def _tag_argument(tag: str, attribute: str, value: str, current: str) -> str:
    if tag == "a" and attribute == "href":
        return value
    if tag == "code" and attribute == "class" and value.startswith("language-"):
        return value[len("language-") :]
    if tag == "span" and attribute == "class" and value.startswith("tg-"):
        return value[len("tg-") :]
    if tag == "tg-emoji" and attribute == "emoji-id":
        return value
    return current


def _normalize_url(url: str) -> str | None:
    url = url.strip()
    if not url or any(char in url for char in " \n\t"):
        return None
    if url.lower().startswith(_URL_SCHEMES):
        return url
    if re.match(r"^[a-z][a-z0-9+.-]*:", url, re.IGNORECASE):
        return None
    return f"http://{url}" if "." in url else None
