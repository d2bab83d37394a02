"""Human formatting of times, sizes and money for labels (no Qt, no engine imports)."""
from __future__ import annotations


def clock(seconds: float | None) -> str:
    """1:02:03 / 2:03 style; '—' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    total = int(round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def timestamp(seconds: float) -> str:
    """Transcript timestamps: always h:mm:ss so the column lines up."""
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def short_seconds(seconds: float | None) -> str:
    """Stage timings: '0.4 s', '12 s', '3:05'."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds:.2f} s"
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    return clock(seconds)


def size(num_bytes: float | None) -> str:
    if num_bytes is None:
        return "—"
    value = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            if unit in ("B", "KB"):
                return f"{value:.0f} {unit}"
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"  # pragma: no cover - loop always returns


def money(dollars: float) -> str:
    if dollars < 0.01:
        return f"${dollars:.4f}"
    return f"${dollars:.2f}"


# The engine's failure lines carry their fix ("... in Settings press \"Use a model folder…\"
# and pick ..."), often past 200 characters: they are shown whole. The limit is there for
# text the engine did not write (an exception's message), which can run to pages.
REASON_LIMIT = 600


def one_line(text: str, limit: int = 200) -> str:
    """Keep user-facing reasons to one short line, whatever an exception carried."""
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
