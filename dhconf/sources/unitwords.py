"""Word splitting of unit setting values as systemd does it, and quoting of words for it.

systemd reads ``Exec*=`` and ``Environment=`` values with ``extract_first_word``
(src/basic/extract-word.c): whitespace separates words, single and double
quotes group text (both kinds decode backslash escapes, unlike sh), C escapes
such as ``\\n`` and ``\\x41`` are decoded, and ``%`` specifiers are resolved
afterwards. A whole-word ``$NAME`` in a command line is split again when the
command starts, with quotes but without C escapes. Each rule here was checked
against a running systemd 252 user manager.
"""

from __future__ import annotations

from dhconf.errors import UnitSyntaxError

WHITESPACE = " \t\n\r"

# The specifiers of systemd 252 (systemd.unit(5), "Specifiers"). With any other
# one, systemd rejects the setting ("Failed to resolve unit specifiers").
SPECIFIERS = frozenset("aAbBCdEfgGhHiIjJlLmMnNopPqsStTuUvVwWyY")

_C_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", '"': '"', "'": "'", "s": " ",
}
_C_ESCAPE_OF = {"\a": "a", "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v"}
_HEX = "0123456789abcdefABCDEF"


def split_setting_words(value: str) -> tuple[list[str], UnitSyntaxError | None]:
    """Split a list setting such as ``Environment=`` into words, as systemd does.

    Quotes group text and C escapes are decoded, strictly: at an unknown
    escape or an unterminated quote systemd stops with "Invalid syntax,
    ignoring", keeping the words before it. Returns those words and the error.
    """
    words: list[str] = []
    pos = 0
    try:
        while True:
            word, pos = extract_word(value, pos, cunescape=True, strict_end=True, fatal=False, strict=True)
            if word is None:
                return words, None
            words.append(word)
    except UnitSyntaxError as err:
        return words, err


def split_value_words(value: str) -> list[str]:
    """Split a variable's value the way systemd does for a whole-word ``$NAME``.

    Whitespace separates words. Single and double quotes group text and are
    removed, and a backslash takes the next character literally (there are no
    C escapes). An unterminated quote runs to the end of the value, and a
    trailing backslash is dropped.
    """
    words = []
    pos = 0
    while True:
        word, pos = extract_word(value, pos, cunescape=False, strict_end=False, fatal=False)
        if word is None:
            return words
        words.append(word)


def specifiers_in(value: str) -> list[str]:
    """Return the specifiers (``%h``, ``%t`` ...) that a raw setting value uses, in order, without ``%%``."""
    found = []
    index = 0
    while index < len(value) - 1:
        if value[index] == "%":
            if value[index + 1] != "%":
                found.append(value[index : index + 2])
            index += 2
            continue
        index += 1
    return found


def resolve_specifiers(word: str, value: str | None = None, *, fatal: bool = False) -> str:
    """Turn ``%%`` into ``%`` and keep known specifiers as written.

    Raises ``UnitSyntaxError`` for an unknown specifier, quoting ``value`` (the
    whole setting value, default ``word``) with ``fatal`` in its details.
    """
    # NOTE: dhconf does not expand specifiers, so %h (the home directory) and
    # %t (the runtime directory, $XDG_RUNTIME_DIR in user units) stay as the
    # text "%h" and "%t". Those two are the ones that docker units use.
    value = word if value is None else value
    out = []
    index = 0
    while index < len(word):
        char = word[index]
        if char != "%" or index + 1 == len(word):
            out.append(char)
            index += 1
            continue
        spec = word[index + 1]
        if spec != "%" and spec not in SPECIFIERS:
            raise UnitSyntaxError(
                f"invalid specifier '%{spec}' in {value!r}: systemd cannot resolve it. "
                "Write '%%' for a literal percent sign",
                value=value,
                fatal=fatal,
            )
        out.append("%" if spec == "%" else "%" + spec)
        index += 2
    return "".join(out)


def quote_word(word: str) -> str:
    """Return ``word`` quoted so that systemd reads it back unchanged: bare where possible, else in double quotes."""
    if word == ";":
        return "\\;"
    if word and not any(_needs_quotes(char) for char in word):
        return word.replace("%", "%%")
    return '"' + "".join(_escape_char(char) for char in word) + '"'


def _needs_quotes(char: str) -> bool:
    return char in WHITESPACE or char in "\"'\\" or is_control(char) or _is_raw_byte(char)


def _escape_char(char: str) -> str:
    if char in '\\"':
        return "\\" + char
    if char == "%":
        return "%%"
    if char in _C_ESCAPE_OF:
        return "\\" + _C_ESCAPE_OF[char]
    if _is_raw_byte(char):
        return f"\\x{ord(char) - 0xDC00:02x}"
    if is_control(char):
        return f"\\x{ord(char):02x}"
    return char


def is_control(char: str) -> bool:
    return ord(char) < 0x20 or ord(char) == 0x7F


def _is_raw_byte(char: str) -> bool:
    # A byte that is not UTF-8 (from an escape such as \xff) is kept as a lone surrogate.
    return 0xDC80 <= ord(char) <= 0xDCFF


def skip_whitespace(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in WHITESPACE:
        pos += 1
    return pos


def ends_word(text: str, pos: int) -> bool:
    return pos >= len(text) or text[pos] in WHITESPACE


def extract_word(
    text: str, pos: int, *, cunescape: bool, strict_end: bool, fatal: bool, strict: bool = False
) -> tuple[str | None, int]:
    """Return the next word from ``pos`` and the position of the word after it.

    ``strict_end`` makes an unterminated quote or a dangling backslash an error
    (command lines); without it they end the word (variable values). ``strict``
    makes an unknown escape an error instead of keeping it verbatim.
    """
    pos = skip_whitespace(text, pos)
    if pos >= len(text):
        return None, pos
    start = pos
    word = bytearray()
    quote = ""
    while pos < len(text):
        char = text[pos]
        if char == "\\":
            if pos + 1 >= len(text):
                if strict_end:
                    raise UnitSyntaxError(
                        f"invalid value {text!r}: it ends in a single backslash. Write '\\\\' "
                        "for a literal backslash",
                        value=text,
                        fatal=fatal,
                    )
                pos += 1
                break
            decoded, pos, known = _unescape(text, pos + 1, cunescape)
            if strict and not known:
                raise UnitSyntaxError(
                    f"invalid escape '\\{text[pos - 1]}' in {text!r}. Write '\\\\' for a literal "
                    "backslash",
                    value=text,
                    fatal=fatal,
                )
            word += decoded
            continue
        if quote:
            if char == quote:
                quote = ""
            else:
                word += char.encode("utf-8", "surrogateescape")
            pos += 1
            continue
        if char in "'\"":
            quote = char
            pos += 1
            continue
        if char in WHITESPACE:
            break
        word += char.encode("utf-8", "surrogateescape")
        pos += 1
    if quote and strict_end:
        raise UnitSyntaxError(
            f"invalid value {text!r}: the {quote} quote at offset {start} is never closed. "
            "Close the quote",
            value=text,
            fatal=fatal,
        )
    return word.decode("utf-8", "surrogateescape"), skip_whitespace(text, pos)


def _unescape(text: str, pos: int, cunescape: bool) -> tuple[bytes, int, bool]:
    """Decode the escape whose character is at ``pos`` (just after the backslash).

    Returns the bytes, the position after the escape, and whether it was a known escape.
    """
    char = text[pos]
    if not cunescape:
        return char.encode("utf-8", "surrogateescape"), pos + 1, True
    if char in _C_ESCAPES:
        return _C_ESCAPES[char].encode(), pos + 1, True
    if char == "x":
        digits = text[pos + 1 : pos + 3]
        if len(digits) == 2 and all(d in _HEX for d in digits) and int(digits, 16):
            return bytes([int(digits, 16)]), pos + 3, True
    elif char in "uU":
        width = 4 if char == "u" else 8
        digits = text[pos + 1 : pos + 1 + width]
        if len(digits) == width and all(d in _HEX for d in digits):
            code = int(digits, 16)
            if code and (char == "u" or _is_valid_unichar(code)):
                return chr(code).encode("utf-8", "surrogatepass"), pos + 1 + width, True
    elif char in "01234567":
        digits = text[pos : pos + 3]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and 0 < int(digits, 8) <= 255:
            return bytes([int(digits, 8)]), pos + 3, True
    # systemd keeps an unknown escape verbatim (with a warning in its log).
    return ("\\" + char).encode("utf-8", "surrogateescape"), pos + 1, False


def _is_valid_unichar(code: int) -> bool:
    return (
        code < 0x110000
        and not 0xD800 <= code <= 0xDFFF
        and not 0xFDD0 <= code <= 0xFDEF
        and (code & 0xFFFE) != 0xFFFE
    )
