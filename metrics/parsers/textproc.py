"""Prometheus text parsed in child processes, beside the import.

``prometheus_client``'s parser is pure Python and the slow part of a text
import (issue 3 wants the whole import within 1.25x of parsing alone). In one
process, mapping, checks and the COPY encoding queue behind it on the GIL; so
for a file of ``PROCESS_MIN_BYTES`` or more the parsing runs in child
processes (``METRICS_PARSER_PROCESSES``, 2 by default) while this one stores
what they have already parsed:

- a feeder thread here cuts the file into chunks (``text.text_chunks``: cheap,
  and it makes the rejects for unreadable lines, with their numbers, as
  in-process) and writes chunk n's lines to child n mod k's stdin;
- each child (``python -c`` running ``child_main``; no Django, only
  ``prometheus_client``) parses its chunks and answers with their samples
  as plain tuples, ``marshal``-ed, or ``None`` for a chunk the parser
  refuses;
- the caller's thread takes the answers back in file order and turns them
  into ``ParsedSample``s; a refused chunk is re-parsed line by line here to
  name the bad lines, exactly as in-process.

The items are the in-process parser's, one for one (tests compare both). A
child that cannot start or dies is not an error: the chunks it did not
answer are parsed here. Children are ``subprocess``es, not
``multiprocessing``: Celery's prefork workers are daemonic processes, which
``multiprocessing`` refuses children. Memory stays bounded: at most
``READ_AHEAD_CHUNKS`` chunks per child are in flight. Closing the stream
(the import service does, on every way out) stops the feeder and the
children; a child whose parent dies sees its input end, or its output
refused, and exits.
"""

from __future__ import annotations

import contextlib
import logging
import marshal
import os
import queue
import struct
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from itertools import chain, repeat
from pathlib import Path
from typing import IO, Any, BinaryIO

from metrics.parsers import ParsedSample, Reject, text

__all__ = ["PROCESS_MIN_BYTES", "SampleStream", "child_main", "parse_prometheus_text"]

logger = logging.getLogger(__name__)

# Below this a child's start (~0.1 s) is not worth it.
PROCESS_MIN_BYTES = 4 * 1024 * 1024
# Chunks per child read ahead of the storing thread: bounds memory (a chunk
# is at most some thousand lines) and keeps the children busy meanwhile.
READ_AHEAD_CHUNKS = 4
# How long a child that has answered every chunk gets to exit by itself.
EXIT_WAIT_SECONDS = 5.0
# Pipe buffers (Linux' default limit for unprivileged processes), and the
# largest frame believed: chunks are bounded (text.CHUNK_BYTES and lines).
PIPE_BYTES = 1024 * 1024
MAX_FRAME_BYTES = 256 * 1024 * 1024
_FRAME = struct.Struct("!Q")
_ROOT = Path(__file__).resolve().parents[2]
_CHILD_CODE = (
    "import sys; sys.path.insert(0, {root!r}); "
    "from metrics.parsers.textproc import child_main; child_main()"
)
# Queue marker for the end of the file; reply marker for a child gone early.
_END = object()
_DEAD = object()

Item = ParsedSample | Reject


def parse_prometheus_text(f: BinaryIO, processes: int | None = None) -> SampleStream:
    """Classic Prometheus text (``text.parse_prometheus_text``'s items),
    parsed by ``processes`` child processes (default: the
    ``METRICS_PARSER_PROCESSES`` setting) when the file is big enough to
    gain from it, else here; the same items either way."""
    if processes is None:
        from django.conf import settings  # the child never gets here

        processes = int(getattr(settings, "METRICS_PARSER_PROCESSES", 0))
    size = _size(f)
    if processes < 1 or size is None or size < PROCESS_MIN_BYTES:
        return SampleStream(text.prometheus_text_blocks(f))
    return SampleStream(_ChildParsers(f, processes).blocks())


def _request(chunk: text.TextChunk) -> tuple[list[str], list[int]]:
    return chunk.texts, chunk.sample_lines


def _answer(request: tuple[list[str], list[int]]) -> list[tuple[Any, ...]] | None:
    """A chunk's samples as plain tuples; None when the parser refuses it."""
    texts, sample_lines = request
    try:
        return text.to_samples(text.prometheus_families(texts), sample_lines, tuple)
    except text.PARSE_ERRORS:
        return None


def _items(chunk: text.TextChunk, answer: list[tuple[Any, ...]] | None) -> Iterable[Item]:
    if answer is None:  # the bad lines are named here, as in-process
        return list(text.line_by_line(chunk.entries()))
    return map(tuple.__new__, repeat(ParsedSample), answer)


class SampleStream:
    """Items of a generator of blocks, flattened by ``chain`` (in C, not a
    ``yield`` per sample), that can be closed: closing stops the generator
    and whatever it started."""

    def __init__(self, blocks: Iterator[Any]) -> None:
        self._blocks = blocks
        self._items: Iterator[Item] = chain.from_iterable(blocks)

    def __iter__(self) -> Iterator[Item]:
        return self._items

    def __next__(self) -> Item:
        return next(self._items)

    def close(self) -> None:
        close = getattr(self._blocks, "close", None)
        if close is not None:
            close()


def _size(f: BinaryIO) -> int | None:
    """Bytes left to read, or None when ``f`` is not a file on disk."""
    try:
        return os.fstat(f.fileno()).st_size - f.tell()
    except (AttributeError, OSError, ValueError):
        return None


class _ChildParsers:
    """Chunk n goes to child n mod k; answers are taken back in file order."""

    def __init__(self, f: BinaryIO, processes: int) -> None:
        self.f = f
        self.processes = processes
        self.chunks: queue.Queue[Any] = queue.Queue(maxsize=READ_AHEAD_CHUNKS * processes)
        self.stop = threading.Event()
        self.children: list[subprocess.Popen[bytes] | None] = []

    def blocks(self) -> Iterator[Iterable[Item]]:
        feeder = threading.Thread(target=self._feed, name="prometheus-text-feeder", daemon=True)
        n = 0
        finished = False
        try:
            self.children = [_start_child() for _ in range(self.processes)]
            replies = [child.stdout if child is not None else None for child in self.children]
            feeder.start()
            while True:
                chunk = self.chunks.get()
                if chunk is _END:
                    finished = True
                    return
                if isinstance(chunk, BaseException):
                    raise chunk
                if isinstance(chunk, Reject):
                    yield [chunk]
                    continue
                which = n % self.processes
                n += 1
                source = replies[which]
                answer: Any = _read_frame(source) if source is not None else _DEAD
                if answer is _DEAD:
                    if source is not None:
                        logger.warning(
                            "A Prometheus text parser process ended early; parsing its chunks here"
                        )
                        replies[which] = None
                    yield _items(chunk, _answer(_request(chunk)))
                else:
                    yield _items(chunk, answer)
        finally:
            self._shut_down(feeder, finished)

    def _shut_down(self, feeder: threading.Thread, finished: bool) -> None:
        """At the end of the file the children have answered everything and
        are exiting. Otherwise killing them unblocks a feeder writing to
        them; draining the queue, one waiting for room. Only then are pipes
        closed. Whatever interrupts this (a Celery soft time limit), no
        child is left running."""
        self.stop.set()
        try:
            for child in self.children:
                if child is not None:
                    _end(child, wait=EXIT_WAIT_SECONDS if finished else 0)
        finally:
            for child in self.children:
                if child is not None and child.poll() is None:
                    child.kill()
            if feeder.ident is not None:  # started
                while feeder.is_alive():
                    with contextlib.suppress(queue.Empty):
                        self.chunks.get(timeout=0.05)
                feeder.join()
            for child in self.children:
                _reap(child)

    def _feed(self) -> None:
        """The feeder thread: chunks go to the queue (in file order), then
        their requests to their child."""
        requests = [child.stdin if child is not None else None for child in self.children]
        n = 0
        try:
            for chunk in text.text_chunks(self.f, openmetrics=False):
                if not self._put(chunk):
                    return
                if isinstance(chunk, Reject):
                    continue
                which = n % self.processes
                n += 1
                target = requests[which]
                if target is None:
                    continue
                try:
                    _write_frame(target, _request(chunk))
                except (OSError, ValueError):
                    requests[which] = None  # that child is gone; the reader parses here
            self._put(_END)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, which raises it
            self._put(exc)
        finally:
            for target in requests:
                if target is not None:
                    with contextlib.suppress(OSError):
                        target.close()  # the child's end of input: it exits

    def _put(self, item: object) -> bool:
        while not self.stop.is_set():
            try:
                self.chunks.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


def _start_child() -> subprocess.Popen[bytes] | None:
    if not sys.executable:
        return None
    # -I: the child's imports come from this interpreter's site-packages and
    # the project root (_CHILD_CODE), never from the working directory.
    command = [sys.executable, "-I", "-c", _CHILD_CODE.format(root=str(_ROOT))]
    try:
        try:
            # Pipes that hold a whole chunk, so a child parses the next one
            # while its answer waits to be read.
            return subprocess.Popen(  # noqa: S603 - our own interpreter and code
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, pipesize=PIPE_BYTES
            )
        except PermissionError:  # a pipe size above the system's limit
            return subprocess.Popen(  # noqa: S603 - our own interpreter and code
                command, stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
    except OSError:
        logger.warning("Cannot start a Prometheus text parser process; parsing here")
        return None


def _end(child: subprocess.Popen[bytes], wait: float) -> None:
    try:
        child.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        child.kill()


def _reap(child: subprocess.Popen[bytes] | None) -> None:
    if child is None:
        return
    child.wait()
    for pipe in (child.stdin, child.stdout):
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()


def _write_frame(out: IO[bytes], value: Any) -> None:
    data = marshal.dumps(value)
    out.write(_FRAME.pack(len(data)))
    out.write(data)
    out.flush()


def _read_frame(source: IO[bytes]) -> Any:
    """The next frame's value, or ``_DEAD`` at a premature end or on
    anything that is not a frame."""
    head = source.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return _DEAD
    (size,) = _FRAME.unpack(head)
    if size > MAX_FRAME_BYTES:
        return _DEAD
    data = source.read(size)
    if len(data) < size:
        return _DEAD
    try:
        return marshal.loads(data)  # noqa: S302 - frames from our own child
    except (EOFError, ValueError, TypeError):
        return _DEAD


def child_main() -> None:
    """The child: each frame in is a chunk (lines, sample line numbers),
    each frame out its answer, until the input ends."""
    requests = sys.stdin.buffer
    # Frames get a descriptor of their own; anything else written to
    # stdout (a library's print) goes to stderr, not between frames.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    while True:
        request = _read_frame(requests)
        if request is _DEAD:
            return
        try:
            _write_frame(replies, _answer(request))
        except BrokenPipeError:
            return
