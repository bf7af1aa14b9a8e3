from shared.pdf_text import pdf_safe_text


def test_french_text_is_kept_as_is():
    assert pdf_safe_text("Léa Bérénice François’ cœur — 3e B") == "Léa Bérénice François’ cœur — 3e B"
    assert pdf_safe_text("Çağla") == "Çagla"


def test_letters_outside_the_built_in_fonts_are_transliterated_not_dropped():
    assert pdf_safe_text("Zoé Łukasz Đorđe Nguyễn Ștefan") == "Zoé Lukasz Dorde Nguyen Stefan"


def test_what_cannot_be_transliterated_becomes_a_question_mark():
    assert pdf_safe_text("王") == "?"
