"""Vietnamese and Turkish as customer languages: detection (with and without diacritics),
explicit language requests, asking for a person, yes-answers, follow-ups and whole catalogs."""

from __future__ import annotations

from string import Formatter

import pytest

from bot.conversations import Message
from bot.handoff import asks_for_human, is_yes
from bot.messages import SUPPORTED_LANGUAGES as CATALOG_LANGUAGES
from bot.messages import catalog_path, message, message_keys
from bot.rewrite import needs_rewrite
from common.language import SUPPORTED_LANGUAGES, detect_language, requested_language

VIETNAMESE = [
    "Có giao hàng đến Nhật không?",
    "Phí vận chuyển là bao nhiêu?",
    "Tôi muốn đổi trả sản phẩm",
    "Đơn hàng của tôi đâu rồi?",
    "Làm sao để hủy đơn hàng?",
    "Tôi có thể thanh toán bằng thẻ tín dụng không?",
    "Cảm ơn",
    # without diacritics, as many customers type
    "co giao hang den Nhat khong",
    "phi van chuyen la bao nhieu",
    "toi muon doi tra san pham",
    "don hang cua toi dau roi",
    "lam sao de huy don hang",
    "toi co the thanh toan bang the tin dung khong",
    "xin chao",
]
TURKISH = [
    "Japonya'ya kargo var mı?",
    "Siparişim nerede?",
    "İade nasıl yapılır?",
    "Kargo ücreti ne kadar?",
    "Kredi kartıyla ödeme yapabilir miyim?",
    "Siparişimi iptal etmek istiyorum",
    "Teşekkürler",
    # without Turkish letters
    "Japonyaya kargo var mi",
    "siparisim nerede",
    "iade nasil yapilir",
    "kargo ucreti ne kadar",
    "kapida odeme var mi",
]


def test_one_list_of_supported_languages():
    assert {"vi", "tr"} <= set(SUPPORTED_LANGUAGES)
    assert CATALOG_LANGUAGES is SUPPORTED_LANGUAGES


@pytest.mark.parametrize("text", VIETNAMESE)
def test_vietnamese_questions_are_detected(text):
    assert detect_language(text).language == "vi", text


@pytest.mark.parametrize("text", TURKISH)
def test_turkish_questions_are_detected(text):
    assert detect_language(text).language == "tr", text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Ok", "en"),
        ("OK", "en"),
        ("Okay", "en"),
        ("title", "en"),
        ("strong", "en"),
        ("check the URL", "en"),
        ("hang on", "en"),
        ("Quanto custa o frete?", "pt"),
        ("Do you ship to Japan?", "en"),
        ("Do you ship to Peru?", "en"),  # fastText: zh at 0.26, though no Han is in it
        ("do you ship to peru?", "en"),
        ("¿Hacen envíos a Japón?", "es"),
        ("Livrez-vous au Japon ?", "fr"),
        ("Liefern Sie nach Japan?", "de"),
        ("Spedite in Giappone?", "it"),
    ],
)
def test_other_languages_are_not_taken_for_vietnamese_or_turkish(text, expected):
    # lingua, offered Vietnamese and Turkish, claims short English words for them
    assert detect_language(text).language == expected, text


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Trả lời bằng tiếng Anh", "en"),
        ("tra loi bang tieng anh", "en"),
        ("Trả lời tiếng Anh giúp tôi", "en"),
        ("Chuyển sang tiếng Nhật", "ja"),
        ("Tiếng Việt", "vi"),
        ("tiếng việt nhé", "vi"),
        ("Tiếng Tây Ban Nha nhé", "es"),
        ("İngilizce cevap verir misiniz?", "en"),
        ("Lütfen Türkçe yazın", "tr"),
        ("Türkçe lütfen", "tr"),
        ("Turkce yazar misiniz", "tr"),
        ("İngilizceye geçelim", "en"),
        ("Almanca konuşabilir misiniz?", "de"),
        ("Answer in Vietnamese please", "vi"),
        ("Réponds en turc", "tr"),
        ("用越南语回答", "vi"),
        ("터키어로 대답해 주세요", "tr"),
    ],
)
def test_language_requests(text, expected):
    assert requested_language(text) == expected, text


@pytest.mark.parametrize(
    "text",
    [
        "Có giao hàng đến Nhật không?",
        "Japonya'ya kargo var mı?",
        "Có sách hướng dẫn bằng tiếng Anh không?",  # asks about a manual
        "Có bài viết bằng tiếng Anh không?",  # "bài viết" is an article, not "write"
        "Vận chuyển sang Nhật mất bao lâu?",  # shipping, not "switch to"
        "İngilizce kılavuz var mı?",
        "Türkçe menü var mı?",
        "Yazılım İngilizce mi?",  # software, not "write"
        "Bana deniz hakkında kısa bir şiir yazar mısın?",
    ],
)
def test_questions_are_not_language_requests(text):
    assert requested_language(text) is None, text


@pytest.mark.parametrize(
    "text",
    [
        "cho tôi nói chuyện với nhân viên",
        "Tôi muốn gặp người thật",
        "Chuyển cho nhân viên tư vấn giúp tôi",
        "nhân viên",
        "Müşteri temsilcisiyle görüşmek istiyorum",
        "Canlı destek var mı?",
        "Gerçek bir insanla konuşmak istiyorum",
        "Beni bir yetkiliye bağlar mısınız?",
        "temsilci",
    ],
)
def test_asking_for_a_person(text):
    assert asks_for_human(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Tôi chưa gặp nhân viên giao hàng",  # the courier
        "Shop có cần nhân viên không?",  # hiring
        "Có giao hàng đến Nhật không?",
        "Müşteri temsilcisi bana yanlış bilgi verdi",
        "Fatura gerçek kişi adına kesilebilir mi?",  # a natural person, on an invoice
        "Japonya'ya kargo var mı?",
    ],
)
def test_a_person_mentioned_is_not_a_request(text):
    assert not asks_for_human(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Vâng",
        "vâng ạ",
        "Dạ",
        "Dạ vâng",
        "Có",
        "Có ạ",
        "có, cảm ơn",
        "Có, tôi muốn",
        "Evet",
        "evet lütfen",
        "Olur",
        "Olur, teşekkürler",
        "Tabii ki",
        "Evet, isterim",
    ],
)
def test_yes(text):
    assert is_yes(text), text


@pytest.mark.parametrize(
    "text",
    [
        "Có giao hàng đến Nhật không?",  # "có" opens questions too
        "Có không?",
        "Có thể",
        "có bán áo không",
        "Không",
        "Hayır",
        "Olur mu?",
        "Evet ama önce bir sorum var",
        "ok",
        "Tamam",
        "được",  # "ok" to "rephrase, or talk to a person?" chooses neither
    ],
)
def test_not_yes(text):
    assert not is_yes(text), text


def _history(question: str) -> list[Message]:
    return [Message("human", question), Message("ai", "…")]


@pytest.mark.parametrize(
    "text, before",
    [
        ("Đổi như vậy có mất phí không? Mình ở Ý.", "Làm sao để đổi ốp lưng sang màu khác?"),
        ("Còn giao hàng đến Canada thì sao?", "Có giao hàng đến Nhật không?"),
        ("Sản phẩm đó có bảo hành bao lâu vậy shop?", "Shop có bán sạc dự phòng không?"),
        ("Nó có màu đen không, mình muốn mua hai cái?", "Ốp lưng MagSafe còn hàng không?"),
        (
            "Peki en geç saat kaçta sipariş verirsem aynı gün kargoya verilir?",
            "Hollanda'ya kargo kaç günde gelir?",
        ),
        ("Bunu nereden yapabilirim, hesabımda bulamadım?", "Üyeliğimi silmek istiyorum."),
        ("80 euroluk bir sipariş için de geçerli mi?", "Taksitle ödeme yapabiliyor muyum?"),
    ],
)
def test_follow_ups_are_rewritten(text, before):
    assert needs_rewrite(text, _history(before)), text


@pytest.mark.parametrize(
    "text",
    [
        "Shop có free ship không vậy ạ, mình ở Hà Nội?",  # "vậy" is a question particle
        "Làm sao để đổi mật khẩu tài khoản của mình?",
        "Kanada'ya gönderim yapıyor musunuz, kaç günde gelir?",
        "Kredi kartıyla taksitli ödeme yapabilir miyim acaba?",
        "Qual é o prazo de entrega para o Brasil?",  # Portuguese "o" is not Turkish "o"
    ],
)
def test_standalone_questions_are_not_rewritten(text):
    assert not needs_rewrite(text, _history("Merhaba")), text


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name is not None}


@pytest.mark.parametrize("language", ["vi", "tr"])
def test_catalog_is_whole_and_translated(language):
    assert catalog_path(language).is_file()
    for key in message_keys():
        english, text = message(key, "en"), message(key, language)
        assert text != english, (language, key)  # every entry translated, none fuzzy
        assert _placeholders(text) == _placeholders(english), (language, key)
    assert "tiếng Việt" in message("language_switched", "vi")
    assert "Türkçe" in message("language_switched", "tr")
    assert message("no_answer", "vi-VN") == message("no_answer", "vi")
    assert message("no_answer", "tr_TR") == message("no_answer", "tr")


@pytest.mark.parametrize(
    "language, plural", [("vi", "nplurals=1; plural=0;"), ("tr", "nplurals=2; plural=(n != 1);")]
)
def test_catalog_header(language, plural):
    header = catalog_path(language).read_text("utf-8")
    assert f'"Language: {language}\\n"' in header
    assert f'"Plural-Forms: {plural}\\n"' in header
    assert "#, fuzzy" not in header
