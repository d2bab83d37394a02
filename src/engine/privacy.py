"""Process-wide privacy guards for the CLI and the app: no core dumps, no raw names on a terminal."""
from __future__ import annotations

import unicodedata


def disable_core_dumps() -> None:
    """Set RLIMIT_CORE to 0 (soft and hard): a crash must not write a core file holding the
    transcript and audio in memory (one crash left an 820 MB core with 105 copies of the
    text). Child processes (the decoder) inherit the limit. No-op where there are no rlimits."""
    try:
        import resource
    except ImportError:  # Windows
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass


def printable(text: str) -> str:
    """`text` safe to write to a terminal: control characters (escape sequences that retitle
    or recolour it, carriage returns and newlines that forge lines) and bidirectional
    overrides become visible escapes such as `\\x1b` or `\\u202e`."""
    if text.isprintable():
        return text
    out = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Zl", "Zp"):
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)
