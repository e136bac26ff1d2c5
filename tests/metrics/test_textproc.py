"""Prometheus text parsed by child processes (metrics/parsers/textproc):
the same items as the in-process parser, whatever happens to the textproc."""

from __future__ import annotations

import io
import multiprocessing
import signal
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from metrics.models import ImportJob, Sample
from metrics.parsers import (
    CHUNK_SAMPLE_LINES,
    MAX_LINE_BYTES,
    ParsedSample,
    Reject,
    textproc,
)
from metrics.parsers import text as text_parsers
from tests.metrics.conftest import DATA

Items = list[ParsedSample | Reject]
STEPS = 6 * CHUNK_SAMPLE_LINES // 20  # 6 chunks
GPUS = 10


def write_prometheus_text(path: Path, *, bad_utf8: bool) -> Path:
    """Every kind of reject the text parser makes: unreadable lines (not
    UTF-8, too long) cut by the chunker, and malformed lines that make
    prometheus_client refuse their chunk."""
    with path.open("wb") as out:
        for step in range(STEPS):
            millis = 1772359200000 + step * 15000
            out.write(b"# TYPE power_watts gauge\n")
            for gpu in range(GPUS):
                out.write(f'power_watts{{gpu="{gpu}"}} {step + gpu} {millis}\n'.encode())
            out.write(b"# TYPE fan_rpm gauge\n")  # not in the catalog: unmapped
            for gpu in range(GPUS):
                out.write(f'fan_rpm{{gpu="{gpu}"}} {step * 7} {millis}\n'.encode())
            if step == 40 and bad_utf8:
                out.write(b'power_watts{gpu="\xff"} 1\n')
            if step == 300:
                out.write(b"x" * (MAX_LINE_BYTES + 10) + b"\n")
            if step == 700:
                out.write(b'power_watts{gpu="3" 12\n')
            if step == 1200:  # a timestamp no float can hold
                out.write(b'power_watts{gpu="4"} 1 ' + b"9" * 400 + b"\n")
    return path


def in_process(path: Path) -> Items:
    with path.open("rb") as f:
        return list(text_parsers.parse_prometheus_text(f))


def by_children(path: Path, processes: int = 2) -> Items:
    with path.open("rb") as f:
        return list(textproc.parse_prometheus_text(f, processes))


def same(got: Items, expected: Items) -> bool:
    """Item for item, types included (repr: NaN values compare equal)."""
    return repr(got) == repr(expected) and list(map(type, got)) == list(map(type, expected))


@pytest.fixture(autouse=True)
def _every_file_goes_to_children(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(textproc, "PROCESS_MIN_BYTES", 0)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    return write_prometheus_text(tmp_path / "messy.prom", bad_utf8=True)


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[subprocess.Popen[bytes]]:
    """Every parser process started, to look at (or kill) from the test."""
    processes: list[subprocess.Popen[bytes]] = []
    start = textproc._start_child

    def recording() -> subprocess.Popen[bytes] | None:
        child = start()
        if child is not None:
            processes.append(child)
        return child

    monkeypatch.setattr(textproc, "_start_child", recording)
    return processes


def test_children_give_exactly_the_in_process_items(
    messy: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    expected = in_process(messy)
    got = by_children(messy)

    assert same(got, expected)
    rejects = [item for item in got if isinstance(item, Reject)]
    assert len(rejects) == 4
    assert any("not valid UTF-8" in r.reason for r in rejects)
    assert any("longer than" in r.reason for r in rejects)
    assert sum("not a valid Prometheus sample line" in r.reason for r in rejects) == 2
    assert sum(isinstance(item, ParsedSample) for item in got) == STEPS * GPUS * 2
    # Both children worked, and both are gone.
    assert len(started) == 2
    assert all(child.returncode == 0 for child in started)


@pytest.mark.sample_data
@pytest.mark.parametrize(
    "name",
    [
        "vllm/kops_vllm_qwen25_0.5b_scrape.txt",
        "dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt",
        "prometheus-text/prometheus-testdata/textparse_alltypes.237mfs.prom.txt",
        "prometheus-text/prometheus-testdata/promtool_metrics-test.prom",
    ],
)
def test_real_sample_files_parse_the_same_in_children(name: str) -> None:
    path = DATA / name
    assert same(by_children(path, processes=1), in_process(path))
    assert same(by_children(path, processes=3), in_process(path))


def test_a_child_killed_midway_leaves_its_chunks_to_this_process(
    messy: Path,
    started: list[subprocess.Popen[bytes]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = in_process(messy)
    got: Items = []
    with messy.open("rb") as f:
        for item in textproc.parse_prometheus_text(f, 2):
            got.append(item)
            if len(got) == 1:  # the first answer is in; the next are not
                started[0].send_signal(signal.SIGKILL)
    assert same(got, expected)
    assert "parsing its chunks here" in caplog.text
    assert started[0].returncode == -signal.SIGKILL
    assert started[1].returncode == 0


def test_children_that_cannot_start_leave_the_parsing_here(
    messy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        raise OSError("no processes left")

    monkeypatch.setattr(subprocess, "Popen", refuse)
    assert same(by_children(messy), in_process(messy))


def test_a_child_that_exits_at_once_changes_nothing(
    messy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(textproc, "_CHILD_CODE", "import sys; sys.exit(3)  # {root}")
    assert same(by_children(messy), in_process(messy))


def test_closing_the_stream_early_stops_children_and_feeder(
    messy: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    threads_before = threading.active_count()
    with messy.open("rb") as f:
        stream = textproc.parse_prometheus_text(f, 2)
        assert isinstance(stream, textproc.SampleStream)
        assert next(stream) is not None
        stream.close()
    assert [child.returncode for child in started] == [-signal.SIGKILL] * 2
    assert threading.active_count() == threads_before


def test_small_files_and_streams_without_a_file_stay_in_process(
    messy: Path,
    started: list[subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(textproc, "PROCESS_MIN_BYTES", messy.stat().st_size + 1)
    assert same(by_children(messy), in_process(messy))
    monkeypatch.setattr(textproc, "PROCESS_MIN_BYTES", 0)
    items = list(textproc.parse_prometheus_text(io.BytesIO(messy.read_bytes()), 2))
    assert same(items, in_process(messy))
    assert started == []


def _parse_in_daemon(path: str, answer: Any) -> None:
    with open(path, "rb") as f:
        answer.put(len(list(textproc.parse_prometheus_text(f, 2))))


def test_parsing_works_inside_a_daemonic_process(tmp_path: Path) -> None:
    """Celery's prefork pool runs tasks in daemonic processes, which
    multiprocessing refuses children; subprocess does not."""
    path = write_prometheus_text(tmp_path / "messy.prom", bad_utf8=True)
    context = multiprocessing.get_context("fork")
    answer = context.Queue()
    worker = context.Process(target=_parse_in_daemon, args=(str(path), answer), daemon=True)
    worker.start()
    count = answer.get(timeout=60)
    worker.join(timeout=30)
    assert worker.exitcode == 0
    assert count == len(in_process(path))


# --------------------------------------------------------------------------
# Through the import service
# --------------------------------------------------------------------------


@pytest.fixture
def import_with(run_import: Callable[..., ImportJob], settings: Any) -> Callable[..., ImportJob]:
    def run(path: Path, processes: int) -> ImportJob:
        settings.METRICS_PARSER_PROCESSES = processes
        return run_import(path, fmt="prometheus_text")

    return run


def test_an_import_through_children_counts_and_stores_the_same(
    tmp_path: Path,
    import_with: Callable[..., ImportJob],
    started: list[subprocess.Popen[bytes]],
    db: None,
) -> None:
    # A file with bytes that are not UTF-8 is refused before any parsing.
    path = write_prometheus_text(tmp_path / "messy.prom", bad_utf8=False)
    here = import_with(path, 0)
    assert started == []
    again = import_with(path, 2)  # the same file again: all duplicates
    assert len(started) == 2

    assert here.status == again.status == ImportJob.Status.SUCCEEDED
    assert here.samples_stored == STEPS * GPUS  # power; fan_rpm is unmapped
    assert here.unmapped_count == STEPS * GPUS
    assert here.rejected == 3
    assert again.samples_stored == 0
    assert again.duplicates == here.samples_stored
    assert (again.samples_read, again.rejected, again.unmapped_count) == (
        here.samples_read,
        here.rejected,
        here.unmapped_count,
    )
    assert again.rejects == here.rejects
    assert Sample.objects.count() == here.samples_stored


def test_a_failing_import_stops_its_parser_processes(
    tmp_path: Path,
    import_with: Callable[..., ImportJob],
    started: list[subprocess.Popen[bytes]],
    monkeypatch: pytest.MonkeyPatch,
    db: None,
) -> None:
    from metrics.storage import SampleWriter

    def broken(self: SampleWriter) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(SampleWriter, "flush", broken)
    path = write_prometheus_text(tmp_path / "messy.prom", bad_utf8=False)
    with pytest.raises(RuntimeError, match="disk on fire"):
        import_with(path, 2)
    assert len(started) == 2
    assert all(child.returncode is not None for child in started)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.FAILED
    assert job.error.startswith("Internal error, reference E-")


def test_what_a_child_prints_does_not_get_between_its_answers(
    messy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    noisy = (
        "import sys; sys.path.insert(0, {root!r}); "
        "from metrics.parsers import textproc as t; answer = t._answer; "
        "t._answer = lambda request: (print('a library talks'), answer(request))[1]; "
        "t.child_main()"
    )
    monkeypatch.setattr(textproc, "_CHILD_CODE", noisy)
    assert same(by_children(messy), in_process(messy))
    assert "ended early" not in caplog.text


def test_a_child_that_garbles_its_output_is_replaced_by_this_process(
    messy: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    garbling = "import sys; sys.stdout.write('not a frame' * 1000); sys.stdout.flush()  # {root}"
    monkeypatch.setattr(textproc, "_CHILD_CODE", garbling)
    assert same(by_children(messy), in_process(messy))
    assert "ended early" in caplog.text


def test_children_start_with_default_pipes_where_a_bigger_size_is_refused(
    messy: Path, monkeypatch: pytest.MonkeyPatch, started: list[subprocess.Popen[bytes]]
) -> None:
    popen = subprocess.Popen

    def strict(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        if kwargs.get("pipesize", -1) > 0:
            raise PermissionError("pipe size above /proc/sys/fs/pipe-max-size")
        return popen(*args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", strict)
    assert same(by_children(messy), in_process(messy))
    assert len(started) == 2


def test_an_interrupted_shutdown_still_stops_every_child(
    messy: Path, monkeypatch: pytest.MonkeyPatch, started: list[subprocess.Popen[bytes]]
) -> None:
    """A Celery soft time limit can strike while the children are ending."""

    def interrupted(child: subprocess.Popen[bytes], wait: float) -> None:
        raise RuntimeError("soft time limit exceeded")

    monkeypatch.setattr(textproc, "_end", interrupted)
    threads_before = threading.active_count()
    with messy.open("rb") as f:
        stream = textproc.parse_prometheus_text(f, 2)
        next(stream)
        with pytest.raises(RuntimeError, match="soft time limit"):
            stream.close()
    assert [child.returncode for child in started] == [-signal.SIGKILL] * 2
    assert threading.active_count() == threads_before
