"""Prometheus text exposition (0.0.4) and OpenMetrics 1.0, parsed by
``prometheus_client``'s own parsers, fed in bounded chunks.

Why chunks: both parsers accumulate a whole metric family before yielding
it, and the classic one stops at the first bad line of the whole text. So
the file is cut into chunks of about ``CHUNK_SAMPLE_LINES`` sample lines or
``CHUNK_BYTES`` bytes,
only at places where a cut cannot change the meaning: before a new family,
or inside a long family before a line that starts a new label group (never
between a histogram's buckets and its ``_count``/``_sum``). The family's
``# HELP``/``# TYPE``/``# UNIT`` lines are repeated at the top of a chunk
that continues it.

The two formats differ in what a bad line means:

- Prometheus text is lax: a line the parser refuses is a reject with its
  line number and the rest of the file is imported (the chunk is re-parsed
  line by line to find the culprits).
- OpenMetrics is a strict document format (the conformance suite's
  ``bad_*`` cases): any error fails the whole import with its line number.
  Checks that span chunks (a family declared twice, ``# EOF`` missing or
  followed by text) are made here; small files are parsed in one chunk and
  so get every check of the reference parser.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain, repeat
from typing import Any, BinaryIO, NamedTuple

from prometheus_client.openmetrics.parser import text_fd_to_metric_families as _om_families
from prometheus_client.parser import text_fd_to_metric_families as _classic_families

from metrics.parsers import (
    CHUNK_BYTES,
    CHUNK_SAMPLE_LINES,
    MAX_LINE_BYTES,
    ParsedSample,
    ParseFailure,
    Reject,
    skip_long_line,
)

# The chunking and sample building are shared with the parser processes
# (textproc), which run them on either side of a pipe.
__all__ = [
    "PARSE_ERRORS",
    "TextChunk",
    "line_by_line",
    "parse_openmetrics",
    "parse_prometheus_text",
    "prometheus_families",
    "prometheus_text_blocks",
    "text_chunks",
    "to_samples",
]

_SECONDARY_SUFFIXES = ("_count", "_sum", "_created", "_gcount", "_gsum")
# The parsers raise these on malformed input (ValueError mostly, the others
# from indexing into a line that is too short, or a timestamp of hundreds of
# digits turned into a float).
PARSE_ERRORS = (ValueError, IndexError, KeyError, TypeError, OverflowError)


def prometheus_families(lines: Iterable[str]) -> Iterable[Any]:
    """The classic parser; it only iterates its "file", so lines will do."""
    return _classic_families(lines)  # type: ignore[arg-type]


def openmetrics_families(lines: Iterable[str]) -> Iterable[Any]:
    families: Iterable[Any] = _om_families(lines)  # type: ignore[no-untyped-call]
    return families


def _sample_name(text: str) -> str:
    end = len(text)
    for stop in ("{", " ", "\t"):
        i = text.find(stop)
        if i != -1 and i < end:
            end = i
    return text[:end].strip()


def _safe_cut(name: str, previous: str) -> bool:
    """True when a chunk may end before a sample line named ``name``."""
    if name.endswith(_SECONDARY_SUFFIXES):
        return False
    return not (name.endswith("_bucket") and previous.endswith("_bucket"))


def _metadata_name(text: str) -> str | None:
    """The family name of a ``# HELP``/``# TYPE``/``# UNIT`` line, else None."""
    parts = text.split(None, 3)
    if len(parts) >= 3 and parts[0] == "#" and parts[1] in ("HELP", "TYPE", "UNIT"):
        return parts[2]
    return None


def to_samples(
    families: Iterable[Any], lines: list[int], cls: type[tuple[Any, ...]] = ParsedSample
) -> list[Any]:
    """``ParsedSample``s in file order, each with its line number (``cls``
    ``tuple`` gives plain tuples of the same fields, which ``marshal`` can
    send from a parser process).

    Per sample of files with millions: tuple.__new__ skips the NamedTuple's
    Python-level __new__, and the sample's fields are read by index
    (prometheus_client's Sample is a NamedTuple: name, labels, value,
    timestamp, ...)."""
    out: list[Any] = []
    append = out.append
    new = tuple.__new__
    line_numbers = chain(lines, repeat(lines[-1] if lines else 0))
    for family in families:
        family_name = family.name
        family_type = family.type
        for sample, line in zip(family.samples, line_numbers, strict=False):
            ts = sample[3]
            append(
                new(
                    cls,
                    (
                        line,
                        sample[0],
                        family_name,
                        family_type,
                        sample[1],
                        sample[2],
                        float(ts) if ts is not None else None,
                    ),
                )
            )
    return out


class TextChunk(NamedTuple):
    """Lines of one chunk: numbers and texts side by side (the texts go to
    the parser as they are), the sample lines' numbers, whether it is the
    file's last chunk, and the family it continues from the previous one."""

    linenos: list[int]
    texts: list[str]
    sample_lines: list[int]
    last: bool
    continued: str | None

    def entries(self) -> list[tuple[int, str]]:
        return list(zip(self.linenos, self.texts, strict=True))


def text_chunks(f: BinaryIO, *, openmetrics: bool) -> Iterator[TextChunk | Reject]:
    """Yield the file's chunks, or a ``Reject`` for a line that cannot even
    be read. The line loop is ``iter_lines`` inlined: this runs per line of
    files of millions of lines, beside a parser that is the slow part."""
    header: list[tuple[int, str]] = []
    family: str | None = None
    linenos: list[int] = []
    texts: list[str] = []
    sample_lines: list[int] = []
    previous = ""
    continued: str | None = None
    chunk_bytes = 0  # of its sample lines
    readline = f.readline
    limit = MAX_LINE_BYTES + 1
    lineno = 0
    while True:
        raw = readline(limit)
        if not raw:
            break
        lineno += 1
        reason = ""
        if len(raw) == limit and not raw.endswith(b"\n"):
            reason = skip_long_line(f, len(raw))
        else:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                reason = f"not valid UTF-8 at byte {exc.start}"
        if reason:
            if openmetrics:
                raise ParseFailure(reason, lineno)
            yield Reject(lineno, reason)
            continue
        if text[0] == "#":
            name = _metadata_name(text)
            if name is not None:
                if name != family:
                    header = []
                    family = name
                header.append((lineno, text))
            linenos.append(lineno)
            texts.append(text)
            continue
        if not openmetrics and text.isspace():
            continue
        # Names are only looked at where a cut is due (keeps the hot loop lean).
        chunk_bytes += len(raw)
        if len(sample_lines) >= CHUNK_SAMPLE_LINES or chunk_bytes >= CHUNK_BYTES:
            name = _sample_name(text)
            if _safe_cut(name, _sample_name(previous)):
                yield TextChunk(linenos, texts, sample_lines, False, continued)
                # A family that goes on into the next chunk keeps its metadata.
                continues = family is not None and name.startswith(family)
                linenos = [n for n, _ in header] if continues else []
                texts = [t for _, t in header] if continues else []
                continued = family if continues else None
                sample_lines = []
                chunk_bytes = len(raw)
        linenos.append(lineno)
        texts.append(text)
        sample_lines.append(lineno)
        previous = text
    yield TextChunk(linenos, texts, sample_lines, True, continued)


def parse_prometheus_text(f: BinaryIO) -> Iterator[ParsedSample | Reject]:
    """Classic Prometheus text: bad lines are rejects, the rest is imported.

    Chunks are flattened by ``chain`` (in C) rather than a ``yield`` per
    sample in Python."""
    return chain.from_iterable(prometheus_text_blocks(f))


def prometheus_text_blocks(f: BinaryIO) -> Iterator[list[ParsedSample | Reject]]:
    for chunk in text_chunks(f, openmetrics=False):
        if isinstance(chunk, Reject):
            yield [chunk]
            continue
        try:
            samples = to_samples(prometheus_families(chunk.texts), chunk.sample_lines)
        except PARSE_ERRORS:
            yield list(line_by_line(chunk.entries()))
            continue
        yield samples


def line_by_line(entries: list[tuple[int, str]]) -> Iterator[ParsedSample | Reject]:
    """Re-parse a chunk that failed, one sample line at a time under its
    family's metadata, to say which lines are bad."""
    header: list[str] = []
    family: str | None = None
    for lineno, text in entries:
        if text.startswith("#"):
            name = _metadata_name(text)
            if name is None:
                continue
            if name != family:
                header, family = [], name
            try:
                list(prometheus_families(iter([*header, text])))
            except PARSE_ERRORS as exc:
                yield Reject(lineno, _reason("invalid metadata line", exc))
                continue
            header.append(text)
            continue
        try:
            families = list(prometheus_families(iter([*header, text])))
        except PARSE_ERRORS as exc:
            yield Reject(lineno, _reason("not a valid Prometheus sample line", exc))
            continue
        yield from to_samples(families, [lineno])


def _reason(prefix: str, exc: Exception) -> str:
    detail = str(exc).strip()
    return f"{prefix}: {detail[:200]}" if detail else prefix


def parse_openmetrics(f: BinaryIO) -> Iterator[ParsedSample | Reject]:
    """OpenMetrics 1.0: any error fails the import (see module docstring)."""
    declared_before: set[str] = set()
    for chunk in text_chunks(f, openmetrics=True):
        if isinstance(chunk, Reject):  # pragma: no cover - OpenMetrics raises instead
            raise ParseFailure(chunk.reason, chunk.line)
        entries, sample_lines = chunk.entries(), chunk.sample_lines
        last, continued = chunk.last, chunk.continued
        declared_here: set[str] = set()
        for lineno, text in entries:
            name = _metadata_name(text)
            if name is None:
                continue
            if name in declared_before and name != continued:
                raise ParseFailure(f"metric family {name!r} appears twice", lineno)
            declared_here.add(name)
        position = [entries[0][0] if entries else 0]

        try:
            samples = to_samples(openmetrics_families(_feed(entries, position, last)), sample_lines)
        except PARSE_ERRORS as exc:
            raise ParseFailure(_reason("invalid OpenMetrics", exc), position[0]) from exc
        declared_before |= declared_here
        yield from samples


def _feed(entries: list[tuple[int, str]], position: list[int], last: bool) -> Iterator[str]:
    """The chunk's lines, recording the current line number for errors; a
    chunk that is not the file's last gets the ``# EOF`` OpenMetrics needs."""
    for lineno, text in entries:
        position[0] = lineno
        yield text
    if not last:
        yield "# EOF\n"
