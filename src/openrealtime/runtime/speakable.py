"""Turn a clause as the model wrote it into text that Piper can say, safely and naturally.

Piper phonemizes with espeak-ng, a C library with fixed-size buffers that segfaults on
input nobody foresaw: ``"K." + "R.T." * 50`` (a tiny LLM's "writer K.R.T.R.T.R.T…")
kills the whole process. Model output also carries URLs, code, markdown, emoji and
base64 that no voice should read out. So TTS never gets the model's text; it gets
:func:`speech_text`'s output, which is built as a whitelist:

- only ASCII letters, digits, spaces and ``. , ? ! '`` (:data:`SPOKEN_CHARS`);
- no word longer than :data:`MAX_TOKEN_CHARS`, no run of more than
  :data:`MAX_SPELLED_RUN` one-character words (what spelled-out letters become);
- pieces of at most :data:`MAX_PIECE_CHARS`, at most :data:`MAX_SPOKEN_CHARS` per clause.

On the way, what a person would say replaces what they would not: ``°C`` → "degrees
Celsius", ``$5.50`` → "5 dollars and 50 cents", ``https://www.example.com/a?b`` →
"example dot com", ``K.R.T.`` → "K R T", fenced code → "code omitted".

Only the audio changes: the transcript stays exactly what the model wrote.
The voice shipped is English, so letters of other scripts are dropped rather than
spelled one by one (accented Latin letters lose their accents).
"""

# ruff: noqa: RUF001  (look-alike characters are this module's input)

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

# --------------------------------------------------------------------------- caps

#: Raw characters of one clause that are looked at; the chunker cuts far shorter clauses,
#: this only bounds the work for a direct caller.
MAX_INPUT_CHARS = 4000
#: Longest word handed to TTS. espeak-ng copies words into small fixed buffers; real
#: words are shorter, longer "words" are blobs, hashes or run-together identifiers.
MAX_TOKEN_CHARS = 24
#: Longest letters-only word that is still said, in pieces of MAX_TOKEN_CHARS;
#: longer ones are dropped.
MAX_LONG_WORD_CHARS = 2 * MAX_TOKEN_CHARS
#: Most one-character words in a row (spelled acronyms, "a b c d ..."); the rest is dropped.
MAX_SPELLED_RUN = 8
#: Longest text given to one ``tts.synthesize`` call; longer text is split at sentence,
#: then comma, then word boundaries.
MAX_PIECE_CHARS = 200
#: Most spoken characters per clause, all pieces together (expansions such as "degrees
#: Celsius" make spoken text longer than written text; this keeps it bounded).
MAX_SPOKEN_CHARS = 600
#: Digit runs up to this length are said as one number; longer ones in groups.
MAX_NUMBER_DIGITS = 9
#: Size and number of digit groups said for a longer digit run (a phone or card number).
DIGIT_GROUP = 3
MAX_DIGIT_GROUPS = 4
#: Decimal places said one by one ("3 point 1 4 1 5").
MAX_DECIMAL_DIGITS = 4
#: Dotted version numbers keep this many parts ("1 point 2 point 3").
MAX_VERSION_PARTS = 4
#: Host labels kept from a URL or e-mail domain (the last ones: "mail dot example dot com").
MAX_HOST_LABELS = 3
#: Inline code this short (words) is read as text; longer inline code is just "code".
MAX_INLINE_CODE_WORDS = 3
#: What is said instead of a fenced code block.
CODE_PLACEHOLDER = "code omitted"
#: The only characters in any output piece.
SPOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,?!'")

# ---------------------------------------------------------------- characters

# Non-ASCII symbols that later rules turn into words; all other symbols are dropped.
_KEPT_SYMBOLS = "€£¥₹°×÷±≈≤≥≠→←"
_CHAR_WORDS = {
    "ß": "ss", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "đ": "d",
    "Đ": "D", "ł": "l", "Ł": "L", "þ": "th", "Þ": "Th", "ð": "d", "ı": "i",
    "α": " alpha ", "β": " beta ", "γ": " gamma ", "δ": " delta ", "Δ": " delta ",
    "ε": " epsilon ", "θ": " theta ", "λ": " lambda ", "μ": " micro ", "π": " pi ",
    "σ": " sigma ", "Σ": " sigma ", "τ": " tau ", "φ": " phi ", "ω": " omega ",
    "Ω": " ohms ", "’": "'", "‘": "'", "—": ", ", "–": ", ", "•": " ", "·": " ",
    "、": ", ", "。": ". ", "¿": " ", "¡": " ",
}
# NFKC would turn these into plain digits or letters ("m²" → "m2", "™" → "TM").
_BEFORE_NFKC = str.maketrans({
    "²": " squared ", "³": " cubed ", "½": " and a half ", "¼": " and a quarter ",
    "¾": " and three quarters ", "™": " ", "®": " ", "©": " ", "℠": " "})
_CACHE_LIMIT = 8192  # code points remembered by the translation table


def _map_char(ch: str) -> str:
    """What one character of NFKC-normalised text becomes (before the word rules run)."""
    if ch.isascii():
        if ch == "\n":
            return ch  # markdown needs its lines
        return " " if ch in "\t\r\x0b\x0c" or not ch.isprintable() else ch
    if ch in _CHAR_WORDS:
        return _CHAR_WORDS[ch]
    if ch in _KEPT_SYMBOLS:
        return ch
    category = unicodedata.category(ch)
    if category[0] == "L":
        # accented Latin letters lose their marks; letters of other scripts go
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if c.isascii())
        return base if base.isalpha() else ""
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if category[0] == "Z":
        return " "
    if category == "Pd":
        return "-"
    if category[0] == "P":
        return ", " if category in ("Ps", "Pe") else " "
    return ""  # marks (combining floods), emoji and symbols, controls, format, surrogates


class _CharTable(dict[int, str]):
    """``str.translate`` table filled on demand, so any code point costs one call, once."""

    def __missing__(self, code: int) -> str:
        value = _map_char(chr(code))
        if len(self) < _CACHE_LIMIT:
            self[code] = value
        return value


_CHARS = _CharTable()


def _clean_characters(text: str) -> str:
    if not text.isascii():
        # lone surrogates cannot be encoded (nor said): drop them before anything else
        text = text.encode("utf-8", "ignore").decode("utf-8")
        text = unicodedata.normalize("NFKC", text.translate(_BEFORE_NFKC))
    return text.translate(_CHARS)


_Rule = tuple[str, re.Pattern[str], str | Callable[[re.Match[str]], str]]


def _apply(rules: list[_Rule], text: str) -> str:
    """Each rule in turn; one is skipped (cheaply) when none of its trigger characters occur."""
    for trigger, pattern, replacement in rules:
        if not trigger or any(c in text for c in trigger):
            text = pattern.sub(replacement, text)
    return text


# --------------------------------------------------------------------- markdown

_FENCE = re.compile(r"```|~~~")
_LINE_MARK = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|>+[ \t]?|[-*+][ \t]+)", re.M)
_RULE_LINE = re.compile(r"^[ \t]*([-*_=])(?:[ \t]*\1){2,}[ \t]*$", re.M)
_TABLE_RULE = re.compile(r"^[ \t|:-]*-{2,}[ \t|:-]*$", re.M)
_IMAGE_OR_LINK = re.compile(r"!?\[([^\]\n]{0,200})\](?:\([^)\n]{0,1000}\)|\[[^\]\n]{0,100}\])")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]{0,20}(?:\s[^<>\n]{0,200})?/?>")
_INLINE_CODE = re.compile(r"`([^`\n]{0,300})`")
_EMPHASIS = re.compile(r"\*{2,}|_{2,}|~{2,}|`+")
_BREAK = re.compile(r"[ \t]*\n[ \t\n]*")


def _inline_code(match: re.Match[str]) -> str:
    code = match.group(1).strip()
    short = len(code.split()) <= MAX_INLINE_CODE_WORDS and len(code) <= MAX_TOKEN_CHARS
    return f" {code} " if short else " code "


_MARKDOWN_RULES: list[_Rule] = [
    ("-*_=", _RULE_LINE, ""), ("-", _TABLE_RULE, ""), ("#>-*+", _LINE_MARK, ""),
    ("[", _IMAGE_OR_LINK, r"\1"), ("<", _HTML_TAG, " "),
    ("`", _INLINE_CODE, _inline_code), ("*_~`", _EMPHASIS, ""), ("|", re.compile(r"\|"), ", "),
    ("\n", _BREAK, ", "),  # a line break is a pause: lists and table rows read as lists
]


def _markdown(text: str) -> str:
    return _apply(_MARKDOWN_RULES, text.strip())


# ------------------------------------------------------------- URLs and e-mail

_TRAILING = ".,;:!?)]}'\""
_URL = re.compile(r"\b(?:(?:https?|ftp)://|www\.)[^\s<>\"'`]{1,2000}", re.I)
_TLDS = ("com|org|net|edu|gov|io|ai|dev|app|co|uk|de|fr|nl|info|biz|me|tv|us|ca|au|eu|"
         "ly|gg|xyz|jp|cn|in|ru|it|es|ch|se|no|fi")
# a bare domain ("example.com/path"); starts only where a run of labels starts
_DOMAIN = re.compile(
    rf"(?<![\w.-])[A-Za-z0-9-]{{1,63}}(?:\.[A-Za-z0-9-]{{1,63}}){{0,{MAX_HOST_LABELS + 2}}}"
    rf"\.(?:{_TLDS})\b(?:/[^\s<>\"'`]{{0,2000}})?")  # lower case: "did it.It was" is no domain
_HAS_TLD = re.compile(rf"\.(?:{_TLDS})\b")
_EMAIL = re.compile(
    r"\b[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})+")


def _host(host: str) -> str:
    labels = [label for label in host.lower().split(".") if 0 < len(label) <= MAX_TOKEN_CHARS]
    if labels and labels[0] == "www":
        labels = labels[1:]
    return " dot ".join(label.replace("-", " ") for label in labels[-MAX_HOST_LABELS:])


def _url(match: re.Match[str]) -> str:
    url = match.group(0)
    stripped = url.rstrip(_TRAILING)
    tail = url[len(stripped):][:1]  # keep one ending mark: it may end the sentence
    rest = re.sub(r"^[a-z]+://", "", stripped, flags=re.I)
    host = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    return f" {_host(host)}{tail} "


def _email(match: re.Match[str]) -> str:
    local, domain = match.group(0).rsplit("@", 1)
    words = [w for w in re.split(r"[._%+-]+", local) if 0 < len(w) <= MAX_TOKEN_CHARS]
    return f" {' dot '.join(words[:3])} at {_host(domain)} "


_BLOB = re.compile(r"(?<![\w+/=-])[\w+/=-]{20,}(?![\w+/=-])", re.A)


def _blob(match: re.Match[str]) -> str:
    token = match.group(0)
    mixed = any(c.isdigit() or c in "+/=" for c in token) and any(c.isalpha() for c in token)
    return " " if mixed else token  # base64, hex digests, keys; not snake_case_names


def _links(text: str) -> str:
    text = _BLOB.sub(_blob, text)
    if "@" in text:
        text = _EMAIL.sub(_email, text)
    if "." in text:
        text = _URL.sub(_url, text)
        if _HAS_TLD.search(text):
            text = _DOMAIN.sub(_url, text)
    return text


# ------------------------------------------------------- abbreviations, acronyms

_ABBREVIATIONS = {"e.g.": "for example", "i.e.": "that is", "etc.": "et cetera",
                  "vs.": "versus", "approx.": "approximately", "w/": "with "}
_ABBREVIATION = re.compile(r"(?<![A-Za-z])(?:e\.g\.|i\.e\.|etc\.|vs\.|approx\.|w/)", re.I)
# Letters joined by dots: "U.S.A.", "K.R.T.R.T." (the segfault), "a.m."
_ACRONYM = re.compile(r"(?<![A-Za-z0-9])[A-Za-z](?:\.[A-Za-z])+\.?(?![A-Za-z0-9])")
_LETTER_FLOOD = re.compile(r"([A-Za-z])\1{3,}")


def _acronym(match: re.Match[str]) -> str:
    letters = match.group(0).replace(".", "").upper()[:MAX_SPELLED_RUN]
    # espeak reads a lone "A" as the article; "eh" is how it says the letter
    return " " + " ".join("eh" if c == "A" else c for c in letters) + " "


_WORD_RULES: list[_Rule] = [
    ("./", _ABBREVIATION, lambda m: _ABBREVIATIONS[m.group(0).lower()]),
    (".", _ACRONYM, _acronym), ("", _LETTER_FLOOD, r"\1\1\1"),  # "sooooooo" → "sooo"
]


def _words(text: str) -> str:
    return _apply(_WORD_RULES, text)


# ----------------------------------------------------------------- numbers

_CURRENCIES = {"$": ("dollar", "cent"), "€": ("euro", "cent"), "£": ("pound", "penny"),
               "¥": ("yen", ""), "₹": ("rupee", "")}
_SCALES = {"k": "thousand", "m": "million", "mn": "million", "b": "billion", "bn": "billion",
           "thousand": "thousand", "million": "million", "billion": "billion",
           "trillion": "trillion"}
_AMOUNT = r"(\d+(?:\.\d+)?)(?:\s?(k|mn?|bn?|thousand|million|billion|trillion)\b)?"
_MONEY_BEFORE = re.compile(r"([$€£¥₹])\s?" + _AMOUNT, re.I)
_MONEY_AFTER = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s?([€£¥₹])")
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![\d]|,\d)")
_UNITS = {  # symbol: (plural, singular)
    "km/h": ("kilometers per hour", "kilometer per hour"), "kph": ("kilometers per hour", ""),
    "mph": ("miles per hour", "mile per hour"), "m/s": ("meters per second", "meter per second"),
    "km": ("kilometers", ""), "cm": ("centimeters", ""), "mm": ("millimeters", ""),
    "kg": ("kilograms", ""), "mg": ("milligrams", ""), "ml": ("milliliters", ""),
    "kWh": ("kilowatt hours", "kilowatt hour"), "kW": ("kilowatts", ""),
    "GHz": ("gigahertz", "gigahertz"), "MHz": ("megahertz", "megahertz"),
    "kHz": ("kilohertz", "kilohertz"), "Hz": ("hertz", "hertz"),
    "TB": ("terabytes", ""), "GB": ("gigabytes", ""), "MB": ("megabytes", ""),
    "KB": ("kilobytes", ""), "ms": ("milliseconds", ""),
    "°C": ("degrees Celsius", "degree Celsius"), "°F": ("degrees Fahrenheit", "degree Fahrenheit"),
    "°": ("degrees", ""), "%": ("percent", "percent"),
}
_UNIT = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s?(" + "|".join(
    re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")(?![A-Za-z])")
_BARE_UNIT = re.compile(r"°[CF]\b|[°%]")
_MONTHS = ("January February March April May June July August September October "
           "November December").split()
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::\d{2})?(?![\d:])")
_VERSION = re.compile(r"(?<![\d.])\d+(?:\.\d+){2,}")
_DECIMAL = re.compile(r"(?<![\d.])(\d*)\.(\d+)(?!\.?\d)")
_DIGITS = re.compile(rf"\d{{{MAX_NUMBER_DIGITS + 1},}}")


def _money(amount: str, scale: str | None, symbol: str) -> str:
    unit, cent = _CURRENCIES[symbol]
    whole, _, fraction = amount.partition(".")
    plural = "" if unit == "yen" else "s"
    if scale:
        return f" {amount} {_SCALES[scale.lower()]} {unit}{plural} "
    name = unit if whole == "1" else unit + plural
    if cent and len(fraction) == 2:
        cents = int(fraction)
        cent_name = cent if cents == 1 else ("pence" if cent == "penny" else cent + "s")
        return f" {whole} {name} and {cents} {cent_name} " if cents else f" {whole} {name} "
    return f" {amount} {name} "


def _unit(match: re.Match[str]) -> str:
    number, symbol = match.group(1), match.group(2)
    plural, singular = _UNITS[symbol]
    name = (singular or plural[:-1]) if number == "1" else plural
    return f" {number} {name} "


def _date(match: re.Match[str]) -> str:
    year, month, day = match.groups()
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return f" {year} {month} {day} "
    return f" {_MONTHS[int(month) - 1]} {int(day)}, {year} "


def _time(match: re.Match[str]) -> str:
    hour, minute = match.groups()
    if minute == "00":
        return f" {int(hour)} o'clock " if int(hour) <= 12 else f" {int(hour)} hundred "
    return f" {int(hour)} oh {minute[1]} " if minute[0] == "0" else f" {int(hour)} {minute} "


def _decimal(match: re.Match[str]) -> str:
    whole, fraction = match.groups()
    return f" {whole} point {' '.join(fraction[:MAX_DECIMAL_DIGITS])} "


def _digit_run(match: re.Match[str]) -> str:
    digits = match.group(0)
    groups = [digits[i:i + DIGIT_GROUP] for i in range(0, len(digits), DIGIT_GROUP)]
    return " " + " ".join(groups[:MAX_DIGIT_GROUPS]) + " "


def _version(match: re.Match[str]) -> str:
    return " " + " point ".join(match.group(0).split(".")[:MAX_VERSION_PARTS]) + " "


_NUMBER_RULES: list[_Rule] = [
    (",", _THOUSANDS, lambda m: m.group(0).replace(",", "")),
    ("$€£¥₹", _MONEY_BEFORE, lambda m: _money(m.group(2), m.group(3), m.group(1))),
    ("€£¥₹", _MONEY_AFTER, lambda m: _money(m.group(1), None, m.group(2))),
    ("", _UNIT, _unit), ("-", _ISO_DATE, _date), (":", _TIME, _time), (".", _VERSION, _version),
    (".", _DECIMAL, _decimal), ("", _DIGITS, _digit_run),
]
_ANY_DIGIT = re.compile(r"\d")


def _numbers(text: str) -> str:
    if _ANY_DIGIT.search(text):
        text = _apply(_NUMBER_RULES, text)
    if "%" in text or "°" in text:  # a sign without a number is still a word
        text = _BARE_UNIT.sub(lambda m: f" {_UNITS[m.group(0)][0]} ", text)
    return text


# ------------------------------------------------------------------ symbols

# (characters that must occur for the rule to apply: a cheap skip, pattern, replacement)
_SYMBOL_RULES: list[_Rule] = [
    (t, re.compile(p), r) for t, p, r in [
        ("-", r"\b(\d{3})-(\d{3})-(\d{4})\b", r"\1 \2 \3"),  # a phone number
        ("-", r"(?<=\d)-(?=\d)", " to "),                     # "5-10" (dates went before)
        ("-", r"(?<![\w.])- ?(?=\d)", " minus "),             # "-5", "7 - 2"
        ("x×*", r"(?<=\d)(?<!\b0) ?[x×*] ?(?=\d)", " times "),  # not "0x1F"
        ("x", r"(?<=\d)x\b", " times"),                        # "3x faster"
        ("/", r"\b(\d)/(\d)\b", r"\1 over \2"),
        ("/", r"(?<=\d) ?/ ?(?=\d)", " slash "),
        ("^", r"(?<=\d) ?\^ ?(?=\d)", " to the power of "),
        ("→-", r"->|→", " to "), ("←<", r"<-|←", " from "), ("≤<", r"<=|≤", " at most "),
        ("≥>", r">=|≥", " at least "), ("≠!", r"!=|≠", " is not "), ("=", r"=+", " equals "),
        ("<", r"(?<=[\d ])<(?=[ \d])", " less than "),
        (">", r"(?<=[\d ])>(?=[ \d])", " greater than "),
        ("±+", r"±|\+/-", " plus or minus "), ("+", r"\+", " plus "),
        ("÷", r"÷", " divided by "), ("×", r"×", " times "), ("~≈", r"[~≈](?= ?\d)", " about "),
        ("&", r"&", " and "), ("@", r"@", " at "), ("#", r"#(?=\d)", " number "),
        ("/", r"(?<=[A-Za-z])/(?=[A-Za-z])", " or "),
        (".", r"(?<=[A-Za-z0-9])\.(?=[a-z0-9])", " dot "),       # "Node.js", "file.py"
        (".", r"(?<=[A-Za-z0-9])\.(?=[A-Z])", ". "),             # "end.Next": a missing space
        ("'", r"(?<=[A-Za-z])'(?=[A-Za-z])", "\x00"),           # keep "don't": protect it
        ("([{", r"\(\s*\)|\[\s*\]|\{\s*\}", " "),                 # "print()"
        ("-:;()[]{}", r"\s*-{2,}\s*|\s+-\s+|[:;()\[\]{}]", ", "),
        ("", r"[^A-Za-z0-9 .,?!\x00]+", " "),                  # everything else goes
        ("\x00", r"\x00", "'"),
    ]
]
_PUNCTUATION_RUN = re.compile(r" ?([.,?!](?: ?[.,?!])*)")  # on single-spaced text
_STRENGTH = {"?": 3, "!": 2, ".": 1, ",": 0}


def _punctuation(match: re.Match[str]) -> str:
    marks = match.group(1)
    return max((c for c in marks if c in _STRENGTH), key=_STRENGTH.__getitem__) + " "


def _symbols(text: str) -> str:
    text = " ".join(_apply(_SYMBOL_RULES, text).split())
    text = _PUNCTUATION_RUN.sub(_punctuation, text)  # "!!!!" → "!", "?!?" → "?", "...." → "."
    return text.strip().lstrip(".,?! ")


# ------------------------------------------------------------------- tokens

def _word_parts(word: str) -> list[str]:
    """A word as said: itself, split in pieces (a long real word), or nothing (a blob)."""
    if not word:
        return []
    if len(word) >= 16 and not word.isalpha() and any(c.isalpha() for c in word):
        return []  # letters and digits mixed that long: a hash, key or base64
    if len(word) > MAX_SPELLED_RUN and word.isupper():
        word = word.lower()  # a long all-capitals word is shouted, not spelled letter by letter
    if len(word) <= MAX_TOKEN_CHARS:
        return [word]
    if word.isalpha() and len(word) <= MAX_LONG_WORD_CHARS:
        return [word[i:i + MAX_TOKEN_CHARS] for i in range(0, len(word), MAX_TOKEN_CHARS)]
    return []


def _tokens(text: str) -> list[str]:
    """Capped tokens, each a word with at most one trailing mark."""
    out: list[str] = []
    run = 0  # one-character words in a row
    for token in text.split():
        word = token.rstrip(".,?!")
        mark = token[len(word):][:1]
        parts = _word_parts(word.strip("'"))
        if not parts:
            if mark and out and out[-1][-1] not in ".,?!":
                out[-1] += mark
            continue
        for part in parts:
            run = run + 1 if len(part) == 1 else 0
            if run <= MAX_SPELLED_RUN:
                out.append(part)
        if mark and out and out[-1][-1] not in ".,?!":
            out[-1] += mark
    return out


def _pieces(tokens: list[str]) -> list[str]:
    """Join tokens into pieces of at most MAX_PIECE_CHARS, cut at the best boundary."""
    pieces: list[str] = []
    current: list[str] = []
    size = total = 0
    for token in tokens:
        total += len(token) + 1
        if total > MAX_SPOKEN_CHARS + 1:
            current = current[:_best_cut(current)] if current else current  # end on a stop
            break
        while current and size + 1 + len(token) > MAX_PIECE_CHARS:
            cut = _best_cut(current)
            pieces.append(" ".join(current[:cut]))
            current = current[cut:]
            size = len(" ".join(current))
        size += len(token) + (1 if current else 0)
        current.append(token)
    if current:
        pieces.append(" ".join(current))
    return [p.rstrip(",") for p in pieces if any(c.isalnum() for c in p)]


def _best_cut(tokens: list[str]) -> int:
    for marks in ".?!", ",":
        for i in range(len(tokens) - 1, len(tokens) // 3, -1):
            if tokens[i - 1][-1] in marks:
                return i
    return len(tokens)


# ------------------------------------------------------------------- public

_STAGES: tuple[Callable[[str], str], ...] = (
    _clean_characters, _markdown, _links, _words, _numbers, _symbols)


class SpeechText:
    """Speakable pieces for the clauses of one response, in order.

    Holds one bit of state across clauses: whether a fenced code block is open, since
    the chunker may cut a block into several clauses.
    """

    def __init__(self) -> None:
        self._in_code = False

    def pieces(self, clause: str) -> list[str]:
        """The TTS inputs for one clause: safe, bounded, possibly none."""
        text = self._drop_code(clause[:MAX_INPUT_CHARS])
        for stage in _STAGES:
            text = stage(text)
        return _pieces(_tokens(text))

    def _drop_code(self, text: str) -> str:
        if not self._in_code and "```" not in text and "~~~" not in text:
            return text
        kept: list[str] = []
        for index, part in enumerate(_FENCE.split(text)):
            if index:
                self._in_code = not self._in_code
                if self._in_code:
                    kept.append(f". {CODE_PLACEHOLDER}. ")
            if not self._in_code:
                kept.append(part)
        return "".join(kept)


def speech_text(clause: str) -> list[str]:
    """The TTS inputs for one stand-alone clause (see :class:`SpeechText`)."""
    return SpeechText().pieces(clause)
