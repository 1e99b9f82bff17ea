import base64
import math
import re
import zlib
from dataclasses import replace
from datetime import date

import pytest

from domain.certificate import (
    FONT_DIR,
    CertificateLabels,
    HoursCertificate,
    HoursRow,
    render_certificate,
)

UK_LABELS = CertificateLabels(
    title="Довідка про волонтерські години",
    volunteer="Волонтер",
    center="Центр",
    month="Місяць",
    hours="Години",
    total="Разом",
    issued_on="Видано",
    footer="Сусіди — центри громади в магазинах біля дому",
)
RU_LABELS = CertificateLabels(
    title="Справка о волонтёрских часах",
    volunteer="Волонтёр",
    center="Центр",
    month="Месяц",
    hours="Часы",
    total="Итого",
    issued_on="Выдано",
    footer="Соседи — соседские центры в магазинах у дома",
)
EN_LABELS = CertificateLabels(
    title="Certificate of volunteer hours",
    volunteer="Volunteer",
    center="Center",
    month="Month",
    hours="Hours",
    total="Total",
    issued_on="Issued on",
    footer="Sosedi — community centers in neighbourhood stores",
)


def make_certificate(**changes) -> HoursCertificate:
    base = HoursCertificate(
        volunteer_name="Іванна Ґудзь-Єфименко",
        issued_on=date(2026, 7, 15),
        rows=[
            HoursRow("Сусіди на Їжакевича", "Київ", date(2026, 1, 1), 4.5),
            HoursRow("Центр «Ґанок»", "Львів", date(2026, 2, 1), 12),
            HoursRow("Сусіди на Їжакевича", "Київ", date(2026, 3, 1), 1234.25),
        ],
        total_hours=1250.75,
    )
    return replace(base, **changes)


# No PDF reader is among the dependencies, so the tests read the file with a small
# extractor of their own: objects, stream filters, page fonts with their ToUnicode maps, and
# the strings shown by text operators. It is enough for what ReportLab writes.


class Pdf:
    def __init__(self, data: bytes) -> None:
        self.data = data
        # Streams are sliced by their /Length, as compressed data may contain any bytes.
        self.heads: dict[int, bytes] = {}
        self.raw_streams: dict[int, bytes] = {}
        position = 0
        obj = re.compile(rb"(\d+) 0 obj\s*(<<.*?>>)\s*(stream\r?\n|endobj)", re.S)
        while match := obj.search(data, position):
            number, head = int(match.group(1)), match.group(2)
            self.heads[number] = head
            position = match.end()
            if match.group(3).startswith(b"stream"):
                length = int(re.search(rb"/Length (\d+)", head).group(1))
                self.raw_streams[number] = data[position : position + length]
                position += length
                assert data[position:].lstrip().startswith(b"endstream")

    def dictionary(self, number: int) -> bytes:
        return self.heads[number]

    def stream(self, number: int) -> bytes:
        data = self.raw_streams[number]
        filters = re.search(rb"/Filter\s*\[?\s*((?:/\w+\s*)+)", self.heads[number])
        for name in filters.group(1).split() if filters else []:
            if name == b"/ASCII85Decode":
                data = base64.a85decode(data.strip().removesuffix(b"~>"))
            elif name == b"/FlateDecode":
                data = zlib.decompress(data)
            else:
                raise AssertionError(f"unexpected filter {name!r}")
        return data

    def pages(self) -> list[int]:
        (root,) = [n for n in self.heads if re.search(rb"/Type /Pages\b", self.dictionary(n))]
        kids = re.search(rb"/Kids \[([^\]]*)\]", self.dictionary(root)).group(1)
        return [int(n) for n in re.findall(rb"(\d+) 0 R", kids)]

    def fonts(self) -> list[bytes]:
        return [
            self.dictionary(n)
            for n in self.heads
            if re.search(rb"/Type /Font\b", self.dictionary(n))
        ]

    def page_text(self, page: int) -> str:
        head = self.dictionary(page)
        fonts_ref = re.search(rb"/Font (\d+) 0 R", head)
        fonts_dict = self.dictionary(int(fonts_ref.group(1)))
        to_unicode = {}
        for name, number in re.findall(rb"/(\S+) (\d+) 0 R", fonts_dict):
            font = self.dictionary(int(number))
            cmap = re.search(rb"/ToUnicode (\d+) 0 R", font)
            to_unicode[name] = parse_cmap(self.stream(int(cmap.group(1))))
        contents = [int(n) for n in re.findall(rb"/Contents (\d+) 0 R", head)]
        text = []
        for number in contents:
            text.append(show_text(self.stream(number), to_unicode))
        return "\n".join(text)

    def text(self) -> str:
        return "\n".join(self.page_text(page) for page in self.pages())


def parse_cmap(cmap: bytes) -> dict[int, str]:
    mapping = {}
    for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.S):
        for src, dst in re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            mapping[int(src, 16)] = bytes.fromhex(dst.decode()).decode("utf-16-be")
    for block in re.findall(rb"beginbfrange(.*?)endbfrange", cmap, re.S):
        for lo, hi, dst in re.findall(rb"<(\w+)>\s*<(\w+)>\s*<(\w+)>", block):
            first = int(dst, 16)
            for offset, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                mapping[code] = chr(first + offset)
    return mapping


_TOKEN = re.compile(
    rb"\((?:\\.|[^\\)])*\)|<[0-9A-Fa-f\s]*>|/[^\s/\[\]()<>]+|\[|\]|[^\s/\[\]()<>]+", re.S
)


def literal(token: bytes) -> bytes:
    body = token[1:-1]
    out = bytearray()
    i = 0
    escapes = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}
    while i < len(body):
        char = body[i : i + 1]
        if char != b"\\":
            out += char
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        octal = re.match(rb"[0-7]{1,3}", body[i + 1 : i + 4])
        if octal:
            out.append(int(octal.group(0), 8) & 0xFF)
            i += 1 + len(octal.group(0))
        elif nxt in (b"\n", b"\r"):
            i += 2  # a backslash before a line break continues the string
        else:
            out += escapes.get(nxt, nxt)
            i += 2
    return bytes(out)


def show_text(content: bytes, to_unicode: dict[bytes, dict[int, str]]) -> str:
    font: dict[int, str] = {}
    operands: list = []
    out: list[str] = []

    def decode(raw: bytes) -> str:
        return "".join(font[b] for b in raw)

    for token in _TOKEN.findall(content):
        if token.startswith(b"("):
            operands.append(literal(token))
        elif token.startswith(b"<"):
            operands.append(bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode()))
        elif token.startswith(b"/") or token in (b"[", b"]"):
            # Names and brackets are kept as str so they never pass for shown strings.
            operands.append(token.decode("latin-1"))
        elif token == b"Tf":
            font = to_unicode[operands[-2][1:].encode("latin-1")]
            operands = []
        elif token in (b"Tj", b"'", b'"'):
            out.append(decode(operands[-1]))
            operands = []
        elif token == b"TJ":
            out.append("".join(decode(op) for op in operands if isinstance(op, bytes)))
            operands = []
        elif token == b"ET":
            out.append("\n")
            operands = []
        elif re.fullmatch(rb"[-+.\d]+", token):
            operands.append(float(token))
        else:
            operands = []
    return "".join(out)


def squeeze(text: str) -> str:
    # Line wrapping inside table cells moves spaces around; compare without whitespace
    # (including the no-break spaces of grouped numbers).
    return re.sub(r"\s+", "", text)


def contains(haystack: str, needle: str) -> bool:
    return squeeze(needle) in squeeze(haystack)


def render(certificate=None, labels=UK_LABELS, locale="uk") -> Pdf:
    return Pdf(render_certificate(certificate or make_certificate(), labels, locale))


def test_fonts_ship_with_the_project():
    assert (FONT_DIR / "DejaVuSans.ttf").is_file()
    assert (FONT_DIR / "DejaVuSans-Bold.ttf").is_file()


def test_is_a_single_a4_page_pdf():
    pdf = render()
    assert pdf.data.startswith(b"%PDF-")
    assert pdf.data.rstrip().endswith(b"%%EOF")
    (page,) = pdf.pages()
    box = re.search(rb"/MediaBox \[\s*([\d.\s]+)\]", pdf.dictionary(page)).group(1).split()
    width, height = (float(v) for v in box[2:])
    assert math.isclose(width, 210 / 25.4 * 72, abs_tol=0.1)
    assert math.isclose(height, 297 / 25.4 * 72, abs_tol=0.1)


def test_text_is_present_in_the_locale():
    text = render().text()
    for expected in [
        UK_LABELS.title,
        UK_LABELS.volunteer,
        "Іванна Ґудзь-Єфименко",
        "Сусіди на Їжакевича",
        "Центр «Ґанок»",
        "Київ",
        "Львів",
        UK_LABELS.center,
        UK_LABELS.month,
        UK_LABELS.hours,
        "Січень 2026",  # stand-alone month name, capitalised
        "Лютий 2026",
        "4,5",
        "1\xa0234,25",
        f"{UK_LABELS.total}",
        "1\xa0250,75",
        "Видано: 15 липня 2026 р.",
        UK_LABELS.footer,
    ]:
        assert contains(text, expected), expected


def test_ukrainian_letters_are_encoded_with_the_embedded_font():
    letters = "іїєґ ІЇЄҐ ʼ"
    pdf = render(make_certificate(volunteer_name=f"Проба {letters}"))
    assert contains(pdf.text(), f"Проба {letters}")
    fonts = pdf.fonts()
    assert fonts
    for font in fonts:
        # Only subsets of the shipped DejaVu fonts, each with its glyphs embedded and a
        # ToUnicode map, so the text renders and can be copied in every viewer.
        assert re.search(rb"/BaseFont /[A-Z]{6}\+DejaVuSans(-Bold)?\b", font)
        assert b"/ToUnicode" in font
        descriptor = int(re.search(rb"/FontDescriptor (\d+) 0 R", font).group(1))
        assert b"/FontFile2" in pdf.dictionary(descriptor)
    assert b"Helvetica" not in pdf.data


def test_russian_months_and_numbers():
    certificate = make_certificate(
        volunteer_name="Пётр Иванов",
        issued_on=date(2026, 9, 1),
        rows=[HoursRow("Соседи на Ленина", "Екатеринбург", date(2026, 7, 1), 2.5)],
        total_hours=2.5,
    )
    text = render(certificate, RU_LABELS, "ru").text()
    assert contains(text, "Июль 2026")
    assert not contains(text, "июля 2026")
    assert contains(text, "2,5")
    assert contains(text, "Выдано: 1 сентября 2026 г.")


def test_english_formatting():
    text = render(labels=EN_LABELS, locale="en").text()
    assert contains(text, "January 2026")
    assert contains(text, "1,234.25")
    assert contains(text, "Issued on: July 15, 2026")


def test_long_table_spans_pages_and_keeps_every_row():
    rows = [
        HoursRow(f"Центр №{i} «Сусіди»", "Вінниця", date(2020 + i // 12, i % 12 + 1, 1), i / 4)
        for i in range(90)
    ]
    certificate = make_certificate(rows=rows, total_hours=sum(r.hours for r in rows))
    pdf = render(certificate)
    pages = pdf.pages()
    assert len(pages) >= 3
    texts = [pdf.page_text(page) for page in pages]
    for number, text in enumerate(texts, start=1):
        # The header row repeats, and each page is numbered and named.
        assert contains(text, UK_LABELS.month)
        assert contains(text, f"{number} / {len(pages)}")
        assert contains(text, UK_LABELS.footer)
        if number > 1:
            assert contains(text, "Іванна Ґудзь-Єфименко")
    whole = "\n".join(texts)
    for row in rows:
        assert contains(whole, f"{row.center_name}{row.city}"), row.center_name
    assert contains(texts[-1], "Разом")
    assert contains(texts[-1], "Видано")
    assert not contains(texts[0], "Видано")


def test_zero_hours_and_no_rows():
    pdf = render(make_certificate(rows=[], total_hours=0))
    assert len(pdf.pages()) == 1
    text = pdf.text()
    assert contains(text, "Разом0")
    assert contains(text, "Іванна Ґудзь-Єфименко")

    zero_row = [HoursRow("Сусіди", "Одеса", date(2026, 4, 1), 0.0)]
    text = render(make_certificate(rows=zero_row, total_hours=0.0)).text()
    assert contains(text, "Квітень 20260")


def test_rows_may_be_plain_tuples():
    rows = [("Сусіди", "Харків", date(2026, 5, 1), 3)]
    assert contains(render(make_certificate(rows=rows, total_hours=3)).text(), "Травень 20263")


def test_names_are_not_parsed_as_markup():
    certificate = make_certificate(
        volunteer_name="Tom & Jerry <b>",
        rows=[HoursRow("Центр <i>Ґ</i> & Co", "Київ", date(2026, 1, 1), 1)],
        total_hours=1,
    )
    text = render(certificate).text()
    assert contains(text, "Tom & Jerry <b>")
    assert contains(text, "Центр <i>Ґ</i> & Co")


def test_long_names_wrap_without_losing_text():
    name = "Олександра-Вікторія " * 12
    center = "Дуже довга назва центру громади в продуктовому магазині " * 4
    certificate = make_certificate(
        volunteer_name=name.strip(),
        rows=[HoursRow(center.strip(), "Житомир", date(2026, 6, 1), 8)],
        total_hours=8,
    )
    text = render(certificate).text()
    assert contains(text, name)
    assert contains(text, center)


def test_same_input_gives_same_bytes():
    first = render_certificate(make_certificate(), UK_LABELS, "uk")
    assert render_certificate(make_certificate(), UK_LABELS, "uk") == first
    later = render_certificate(make_certificate(issued_on=date(2026, 8, 1)), UK_LABELS, "uk")
    assert later != first
    # The issue date is the document's creation date, not the moment of rendering.
    assert b"/CreationDate (D:20260715000000+00'00')" in first


@pytest.mark.parametrize("hours", [-1, math.nan, math.inf])
def test_impossible_hours_are_rejected(hours):
    with pytest.raises(ValueError):
        render_certificate(make_certificate(total_hours=hours), UK_LABELS, "uk")
    rows = [HoursRow("Сусіди", "Київ", date(2026, 1, 1), hours)]
    with pytest.raises(ValueError):
        render_certificate(make_certificate(rows=rows), UK_LABELS, "uk")


def test_states_the_hours_a_roll_call_confirmed():
    labels = replace(
        EN_LABELS,
        confirmed="Confirmed by the centers at roll call",
        unconfirmed="Not confirmed yet",
    )
    certificate = make_certificate(confirmed_hours=1000.5)
    text = render(certificate, labels, "en").text()
    assert contains(text, "Confirmed by the centers at roll call: 1,000.5")
    assert contains(text, "Not confirmed yet: 250.25")
    # Without the figure there are no such lines.
    assert not contains(render(labels=labels, locale="en").text(), "Not confirmed yet")
    with pytest.raises(ValueError):
        render_certificate(make_certificate(confirmed_hours=2000), labels, "en")
