"""
Text from jobs and from operators, on its way to a database or a terminal.

A job's output, error and return value are whatever the job made them: bytes
decoded with ``surrogateescape``, NUL, terminal escape sequences. Every
database must store them, and a terminal must show them as text, never obey
them.
"""

import re

# NUL, which PostgreSQL's text cannot hold, and lone surrogates, which no
# UTF-8 encoder takes: either fails a query, on some databases only.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def unstorable(text: str) -> bool:
    """Tell whether ``text`` holds a character that a database cannot store."""
    return bool(_UNSTORABLE.search(text))


def storable(text: str) -> str:
    """Return ``text`` with NUL and lone surrogates as U+FFFD, which every database stores."""
    return _UNSTORABLE.sub("\ufffd", text)


def printable(text: str) -> str:
    """
    Return ``text`` with every character that is not printable escaped as
    repr() writes it (``\\x1b``, ``\\n``, ``\\u202e``): an error message cannot
    erase a line of the terminal, move the cursor or plant a link.
    """
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)
