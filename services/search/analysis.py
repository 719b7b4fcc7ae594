"""The analysis chain of Latin-script and mixed-script text, run the same for documents and queries.

Every backend indexes the terms made here as keyword values and every query looks them up
with the terms made here, so tantivy, Elasticsearch and OpenSearch find the same customers (the
engines' own analyzers differ, and the local Elasticsearch node has no asciifolding filter):

1. ``fold``: NFKC (full-width ``ＩＢＭ１２３`` and ``（`` become ``IBM123`` and ``(``), lower
   case, then ASCII folding: accents removed by canonical decomposition (``Müller`` ->
   ``muller``, ``Société`` -> ``societe``) and the letters that do not decompose mapped by
   :data:`FOLDED_LETTERS` (``ß`` -> ``ss``, ``ø`` -> ``o``).
2. ``words``: the folded text split into words at spaces, punctuation and script boundaries:
   ``IBM中国`` -> ``ibm``, ``中国``; ``宝马(BMW)`` -> ``宝马``, ``bmw``; ``O'Brien`` -> ``obrien``.
   Latin words are runs of ASCII letters and digits; Han runs are words too.
3. ``email_parts``: an address's local part, its domain and the words of the local part
   (``john.smith@acme.com`` -> ``john.smith``, ``acme.com``, ``john``, ``smith``).
"""

import re
import unicodedata

# Latin letters with no canonical decomposition, folded as Lucene's ASCIIFoldingFilter does.
FOLDED_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "œ": "oe",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ł": "l",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŋ": "n",
    }
)
# Apostrophes inside a word join it (O'Brien, L'Oréal, xi'an) instead of splitting it.
_APOSTROPHES = re.compile(r"(?<=\w)['’‘`´](?=\w)")
_WORD = re.compile(r"[a-z0-9]+|[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN = re.compile(r"[a-z0-9]+")
# Words a user types before the first space at most; longer runs are not names.
MAX_WORD = 40


def fold(text: str) -> str:
    """Text as half-width, lower-case ASCII where it is Latin; other scripts kept."""
    text = unicodedata.normalize("NFKC", text).lower().translate(FOLDED_LETTERS)
    if text.isascii():
        return text
    kept: list[str] = []
    base = ""
    for ch in unicodedata.normalize("NFD", text):
        if unicodedata.combining(ch):
            # Only accents over Latin letters go: a kana's voicing mark (ガ) is part of the letter.
            if not base.isascii():
                kept.append(ch)
            continue
        base = ch
        kept.append(ch)
    return unicodedata.normalize("NFC", "".join(kept))


def words(text: str) -> list[str]:
    """The distinct words of text, folded, in order: Latin runs and Han runs, split between them."""
    joined = _APOSTROPHES.sub("", fold(text))
    return list(dict.fromkeys(w[:MAX_WORD] for w in _WORD.findall(joined)))


def latin_words(text: str) -> list[str]:
    """The Latin-script (ASCII letters and digits) words of text, folded."""
    return [w for w in words(text) if _LATIN.fullmatch(w)]


def has_latin(text: str) -> bool:
    """Whether the text holds a Latin letter or digit once folded."""
    return bool(_LATIN.search(fold(text)))


def email(address: str) -> str:
    """An address as it is indexed and looked up: folded, without spaces."""
    return "".join(fold(address).split())


def email_parts(address: str) -> list[str]:
    """The local part, the domain and the local part's words of an address (folded)."""
    folded = email(address)
    local, at, domain = folded.rpartition("@")
    if not at:
        return []
    parts = [local, domain, *_LATIN.findall(local)]
    return list(dict.fromkeys(p for p in parts if p))
