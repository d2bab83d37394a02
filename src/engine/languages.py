"""The languages Whisper knows, by the code `--language` takes (imports nothing heavy).

The same table as faster_whisper.tokenizer's codes (a test keeps them equal); kept here so
the CLI can check `--language` without importing faster-whisper and CTranslate2.
"""
from __future__ import annotations

from pathlib import Path

LANGUAGES: dict[str, str] = {
    "en": "English", "zh": "Chinese", "de": "German", "es": "Spanish", "ru": "Russian",
    "ko": "Korean", "fr": "French", "ja": "Japanese", "pt": "Portuguese", "tr": "Turkish",
    "pl": "Polish", "ca": "Catalan", "nl": "Dutch", "ar": "Arabic", "sv": "Swedish",
    "it": "Italian", "id": "Indonesian", "hi": "Hindi", "fi": "Finnish", "vi": "Vietnamese",
    "he": "Hebrew", "uk": "Ukrainian", "el": "Greek", "ms": "Malay", "cs": "Czech",
    "ro": "Romanian", "da": "Danish", "hu": "Hungarian", "ta": "Tamil", "no": "Norwegian",
    "th": "Thai", "ur": "Urdu", "hr": "Croatian", "bg": "Bulgarian", "lt": "Lithuanian",
    "la": "Latin", "mi": "Maori", "ml": "Malayalam", "cy": "Welsh", "sk": "Slovak",
    "te": "Telugu", "fa": "Persian", "lv": "Latvian", "bn": "Bengali", "sr": "Serbian",
    "az": "Azerbaijani", "sl": "Slovenian", "kn": "Kannada", "et": "Estonian", "mk": "Macedonian",
    "br": "Breton", "eu": "Basque", "is": "Icelandic", "hy": "Armenian", "ne": "Nepali",
    "mn": "Mongolian", "bs": "Bosnian", "kk": "Kazakh", "sq": "Albanian", "sw": "Swahili",
    "gl": "Galician", "mr": "Marathi", "pa": "Punjabi", "si": "Sinhala", "km": "Khmer",
    "sn": "Shona", "yo": "Yoruba", "so": "Somali", "af": "Afrikaans", "oc": "Occitan",
    "ka": "Georgian", "be": "Belarusian", "tg": "Tajik", "sd": "Sindhi", "gu": "Gujarati",
    "am": "Amharic", "yi": "Yiddish", "lo": "Lao", "uz": "Uzbek", "fo": "Faroese",
    "ht": "Haitian Creole", "ps": "Pashto", "tk": "Turkmen", "nn": "Nynorsk", "mt": "Maltese",
    "sa": "Sanskrit", "lb": "Luxembourgish", "my": "Myanmar", "bo": "Tibetan", "tl": "Tagalog",
    "mg": "Malagasy", "as": "Assamese", "tt": "Tatar", "haw": "Hawaiian", "ln": "Lingala",
    "ha": "Hausa", "ba": "Bashkir", "jw": "Javanese", "su": "Sundanese", "yue": "Cantonese",
}
HOW_TO_LIST = "`sessionscribe languages` lists the codes"
ENGLISH_ONLY_VOCABULARY = 51864  # the .en models' tokens; multilingual ones have 51865 or more


def unknown_language(code: str | None) -> str | None:
    """One line when `code` is not a language Whisper knows (None and "auto" detect it)."""
    if code in (None, "auto") or code in LANGUAGES:
        return None
    return f"unknown language code '{code}'; {HOW_TO_LIST}"


def english_only(model: str, folder: Path | None) -> bool:
    """True for an English-only (.en) model: by its name, or for a folder by its vocabulary
    (a folder may be named anything). Cheap: no loading."""
    if model.endswith(".en") or (folder is not None and folder.name.endswith(".en")):
        return True
    if folder is None:
        return False
    try:
        with (folder / "vocabulary.txt").open(encoding="utf-8") as file:
            return sum(1 for _ in file) == ENGLISH_ONLY_VOCABULARY
    except (OSError, UnicodeDecodeError):
        pass
    try:
        import json

        return len(json.loads((folder / "vocabulary.json").read_text(encoding="utf-8"))) == ENGLISH_ONLY_VOCABULARY
    except (OSError, ValueError, TypeError):
        return False


def english_only_note(model: str, folder: Path | None, language: str | None) -> str | None:
    """The warning for an English-only model asked for another language (which it ignores:
    the speech comes out as English words, or gibberish)."""
    if language in (None, "auto", "en") or not english_only(model, folder):
        return None
    name = LANGUAGES.get(language, language)
    label = folder.name if folder is not None and Path(model).is_dir() else model
    return (
        f"the {label} model only knows English: {name} speech will come out as English words; "
        "choose a model without .en for other languages"
    )
