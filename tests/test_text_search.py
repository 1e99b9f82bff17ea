from domain.deeplinks import center_link, center_payload, parse_center_payload
from domain.text import fold, search_terms


def test_fold_meets_cyrillic_and_latin_spellings():
    assert fold("Екатеринбург") == fold("Yekaterinburg") == fold("Ekaterinburg")
    assert fold("Миргород") == fold("Myrhorod")
    assert fold("Щёлково") == fold("Щелково") == fold("Shchyolkovo")
    assert fold("ХАБАРОВСК") == fold("Khabarovsk")
    assert fold("Новокузнецк") == fold("Novokuznetsk")


def test_fold_ignores_case_yo_and_punctuation():
    assert fold("ул. Малышева, 5") == fold("УЛ МАЛЫШЕВА 5")
    assert fold("Ёлкино") == fold("елкино")


def test_search_terms_drop_noise():
    assert search_terms("  г. Екатеринбург,  Малышева ") == [fold("Екатеринбург"), fold("Малышева")]
    assert search_terms("!!!") == []
    assert len(search_terms("a b c d e f g h i j k l " * 3 + "word " * 10)) == 5


def test_center_payload_round_trip():
    assert parse_center_payload(center_payload(42)) == 42
    assert center_link("sosedi_bot", 7) == "https://t.me/sosedi_bot?start=center_7"


def test_malformed_payloads_are_not_ours():
    malformed = [None, "", "center_", "center_0", "center_-1", "center_01", "center_1x"]
    malformed += ["CENTER_1", "center_" + "9" * 30, "x" * 65, "center_1 ", "центр_1"]
    for payload in malformed:
        assert parse_center_payload(payload) is None, payload


def test_numbers_keep_their_digits():
    assert fold("дом 100") != fold("дом 10")
    assert fold("Аллея") == fold("Алея")


def test_english_names_of_cities():
    from storage.centers import search_key

    key = search_key("Соседи", "ул. Тверская, 1", "Москва", None)
    assert all(term in key for term in search_terms("Moscow Tverskaya"))
    assert fold("saint petersburg") in search_key("Соседи", "Невский", "Санкт-Петербург", None)
    assert fold("Kiev") in search_key("Сусіди", "Хрещатик", "Київ", None)
