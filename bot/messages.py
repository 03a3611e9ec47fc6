"""Fixed customer-facing strings, in every supported language.

The engine never shows the customer an English string when it knows their language:
``message(key, language)`` falls back to English only for languages not listed here.
"""

from __future__ import annotations

from .language import base_language

SUPPORTED_LANGUAGES = ("en", "zh", "es", "fr", "de", "ja", "pt", "ar", "ko", "it")

MESSAGES: dict[str, dict[str, str]] = {
    "no_answer": {
        "en": "I couldn't find this in our help articles, and I'd rather not guess. Could you rephrase your question, or would you like to talk to a person from our team?",
        "zh": "我在帮助文章中没有找到相关内容，不想随意猜测。您可以换个说法提问，或者需要我为您转接人工客服吗？",
        "es": "No he encontrado esto en nuestros artículos de ayuda y prefiero no adivinar. ¿Puede reformular su pregunta o prefiere hablar con una persona de nuestro equipo?",
        "fr": "Je n'ai pas trouvé cela dans nos articles d'aide et je préfère ne pas deviner. Pouvez-vous reformuler votre question, ou souhaitez-vous parler à une personne de notre équipe ?",
        "de": "Dazu habe ich in unseren Hilfeartikeln nichts gefunden, und ich möchte nicht raten. Können Sie Ihre Frage anders formulieren, oder möchten Sie mit jemandem aus unserem Team sprechen?",
        "ja": "ヘルプ記事の中に該当する情報が見つかりませんでした。推測でお答えすることは控えます。質問を言い換えていただくか、担当者におつなぎしましょうか？",
        "pt": "Não encontrei isso nos nossos artigos de ajuda e prefiro não adivinhar. Pode reformular a sua pergunta ou prefere falar com uma pessoa da nossa equipa?",
        "ar": "لم أجد هذا في مقالات المساعدة لدينا، ولا أريد أن أخمّن. هل يمكنك إعادة صياغة سؤالك، أم تفضّل التحدث مع أحد أعضاء فريقنا؟",
        "ko": "도움말 문서에서 해당 내용을 찾지 못했으며, 추측으로 답변드리고 싶지 않습니다. 질문을 다르게 표현해 주시겠어요, 아니면 상담원과 연결해 드릴까요?",
        "it": "Non ho trovato questa informazione nei nostri articoli di assistenza e preferisco non tirare a indovinare. Può riformulare la domanda o preferisce parlare con una persona del nostro team?",
    },
    "llm_unavailable": {
        "en": "Sorry, I can't answer right now because our answering service is unavailable. Please try again in a few minutes.",
        "zh": "抱歉，由于回答服务暂时不可用，我现在无法回答。请几分钟后再试。",
        "es": "Lo siento, ahora mismo no puedo responder porque nuestro servicio de respuestas no está disponible. Inténtelo de nuevo en unos minutos.",
        "fr": "Désolé, je ne peux pas répondre pour le moment car notre service de réponse est indisponible. Veuillez réessayer dans quelques minutes.",
        "de": "Entschuldigung, ich kann gerade nicht antworten, weil unser Antwortdienst nicht erreichbar ist. Bitte versuchen Sie es in ein paar Minuten erneut.",
        "ja": "申し訳ございません。現在、回答サービスが利用できないため、お答えできません。数分後にもう一度お試しください。",
        "pt": "Desculpe, não consigo responder agora porque o nosso serviço de respostas está indisponível. Tente novamente dentro de alguns minutos.",
        "ar": "عذرًا، لا يمكنني الإجابة الآن لأن خدمة الإجابة غير متاحة. يُرجى المحاولة مرة أخرى بعد بضع دقائق.",
        "ko": "죄송합니다. 현재 답변 서비스를 사용할 수 없어 답변드릴 수 없습니다. 몇 분 후에 다시 시도해 주세요.",
        "it": "Mi dispiace, al momento non posso rispondere perché il nostro servizio di risposta non è disponibile. Riprovi tra qualche minuto.",
    },
    "empty_question": {
        "en": "Please type your question and I'll look it up.",
        "zh": "请输入您的问题，我来为您查找。",
        "es": "Escriba su pregunta y la buscaré.",
        "fr": "Écrivez votre question et je la chercherai.",
        "de": "Bitte geben Sie Ihre Frage ein, dann suche ich die Antwort.",
        "ja": "ご質問を入力してください。お調べします。",
        "pt": "Escreva a sua pergunta e eu procuro a resposta.",
        "ar": "يُرجى كتابة سؤالك وسأبحث عن الإجابة.",
        "ko": "질문을 입력해 주시면 찾아 드리겠습니다.",
        "it": "Scriva la sua domanda e cercherò la risposta.",
    },
    "sources": {
        "en": "Sources", "zh": "来源", "es": "Fuentes", "fr": "Sources", "de": "Quellen",
        "ja": "出典", "pt": "Fontes", "ar": "المصادر", "ko": "출처", "it": "Fonti",
    },
}


def message(key: str, language: str) -> str:
    table = MESSAGES[key]
    return table.get(language) or table.get(base_language(language)) or table["en"]
