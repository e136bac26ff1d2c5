"""Parsers and format detection, on the real sample files and on bad input.
No database needed."""

from __future__ import annotations

import io
import json
import math

import pytest

from metrics import detect
from metrics.parsers import (
    MAX_LINE_BYTES,
    ParsedBatch,
    ParsedSample,
    ParseFailure,
    Reject,
    csv_long,
    get_parser,
)
from metrics.parsers import text as text_parsers
from tests.metrics.conftest import DATA


def parse(fmt: str, content: bytes) -> list[ParsedSample | Reject]:
    """Every item, batches expanded into their samples."""
    out: list[ParsedSample | Reject] = []
    for item in get_parser(fmt)(io.BytesIO(content)):
        if isinstance(item, ParsedBatch):
            out.extend(item.expand())
        else:
            out.append(item)
    return out


def samples(items: list[ParsedSample | Reject]) -> list[ParsedSample]:
    return [item for item in items if isinstance(item, ParsedSample)]


def rejects(items: list[ParsedSample | Reject]) -> list[Reject]:
    return [item for item in items if isinstance(item, Reject)]


@pytest.mark.sample_data
@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [
        ("vllm/kops_vllm_qwen25_0.5b_scrape.txt", "prometheus_text", 395),
        ("vllm/datadog_vllm_fixture_metrics.txt", "prometheus_text", 185),
        ("dcgm-exporter/kops_L4_dcgm_exporter_scrape.txt", "prometheus_text", 23),
        ("dcgm-exporter/vks_vgpu_A100-10C_dcgm_exporter_scrape.txt", "prometheus_text", 11),
        ("dcgm-exporter/datadog_dcgm_fixture_metrics.txt", "prometheus_text", 38),
        ("prometheus-text/prometheus-testdata/promtool_metrics-test.prom", "prometheus_text", 27),
        ("prometheus-text/prometheus-testdata/textparse_1histogram.om.txt", "openmetrics", 42),
        ("prometheus-api/query_range_matrix_up.prometheus-docs.json", "query_range_json", 6),
        ("prometheus-api/query_range_matrix.openapi-example.json", "query_range_json", 3),
        ("prometheus-api/instant_query_vector_dcgm_L40S_upcloud.json", "query_range_json", 1),
    ],
)
def test_real_sample_files_parse_and_are_detected(path: str, fmt: str, expected: int) -> None:
    with (DATA / path).open("rb") as f:
        assert detect.detect_format(f) == fmt
    items = parse(fmt, (DATA / path).read_bytes())
    assert rejects(items) == []
    assert len(samples(items)) == expected


@pytest.mark.sample_data
def test_prometheus_text_big_scrape_keeps_every_sample_with_its_line() -> None:
    path = DATA / "prometheus-text/prometheus-testdata/textparse_alltypes.237mfs.prom.txt"
    lines = path.read_text().splitlines()
    with path.open("rb") as f:
        items = samples(list(text_parsers.parse_prometheus_text(f)))
    sample_lines = [
        i + 1 for i, line in enumerate(lines) if line.strip() and not line.startswith("#")
    ]
    assert [item.line for item in items] == sample_lines
    # Each sample's line really holds that sample (spot check every 100th).
    for item in items[::100]:
        assert lines[item.line - 1].startswith(item.name)


@pytest.mark.sample_data
def test_vllm_histogram_buckets_keep_inf_and_model_label() -> None:
    with (DATA / "vllm/datadog_vllm_fixture_metrics.txt").open("rb") as f:
        items = samples(list(text_parsers.parse_prometheus_text(f)))
    buckets = [s for s in items if s.name == "vllm:e2e_request_latency_seconds_bucket"]
    assert buckets[-1].labels["le"] == "+Inf"
    assert buckets[0].family == "vllm:e2e_request_latency_seconds"
    assert buckets[0].family_type == "histogram"
    assert {s.labels["model_name"] for s in buckets} == {"facebook/opt-125m"}


def test_classic_text_bad_line_is_rejected_with_its_number_and_the_rest_kept() -> None:
    content = b"""# TYPE a gauge
a{x="1"} 1
a{x="2" 2
a{x="3"} 3
b 4
"""
    items = parse("prometheus_text", content)
    assert [(r.line, r.reason.split(":")[0]) for r in rejects(items)] == [
        (3, "not a valid Prometheus sample line")
    ]
    assert [(s.line, s.value) for s in samples(items)] == [(2, 1.0), (4, 3.0), (5, 4.0)]


def test_classic_text_timestamps_are_milliseconds() -> None:
    items = samples(parse("prometheus_text", b"a 1 1700000000123\n"))
    assert items[0].ts == pytest.approx(1700000000.123)


def test_openmetrics_timestamps_are_seconds() -> None:
    items = samples(parse("openmetrics", b"# TYPE a gauge\na 1 1700000000.5\n# EOF\n"))
    assert items[0].ts == 1700000000.5


def test_ten_megabyte_line_is_rejected_without_stopping_the_file() -> None:
    content = b"a 1\n" + b'b{x="' + b"y" * (10 * 1024 * 1024) + b'"} 2\nc 3\n'
    items = parse("prometheus_text", content)
    assert [r.line for r in rejects(items)] == [2]
    assert f"longer than {MAX_LINE_BYTES} bytes" in rejects(items)[0].reason
    assert [s.name for s in samples(items)] == ["a", "c"]


def test_line_in_wrong_encoding_is_rejected_with_its_number() -> None:
    items = parse("prometheus_text", b'a 1\nb{x="caf\xe9"} 2\nc 3\n')
    assert [(r.line, "UTF-8" in r.reason) for r in rejects(items)] == [(2, True)]
    assert [s.name for s in samples(items)] == ["a", "c"]


@pytest.mark.parametrize(
    "content",
    [
        b"\x1f\x8b\x08\x00" + bytes(range(256)) * 4,  # gzip
        "a 1\n".encode("utf-16"),
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64,
        b"   \n",
    ],
    ids=["gzip", "utf16", "png", "empty"],
)
def test_binary_or_empty_file_fails_as_a_whole(content: bytes) -> None:
    with pytest.raises(ParseFailure):
        detect.check_text(io.BytesIO(content))


def test_openmetrics_truncated_file_fails_with_missing_eof() -> None:
    with pytest.raises(ParseFailure, match="EOF"):
        parse("openmetrics", b"# TYPE a counter\na_total 1\n")


def _conformance_cases() -> list[tuple[str, bool]]:
    root = DATA / "prometheus-text/openmetrics-parser-tests"
    if not root.is_dir():
        return []
    cases = []
    for case in sorted(root.iterdir()):
        meta = json.loads((case / "test.json").read_text())
        cases.append((case.name, bool(meta["shouldParse"])))
    return cases


@pytest.mark.sample_data
@pytest.mark.parametrize(("case", "should_parse"), _conformance_cases())
def test_openmetrics_conformance_suite(case: str, should_parse: bool) -> None:
    """The bad_* cases fail cleanly (ParseFailure, no other exception); the
    good ones parse."""
    content = (DATA / "prometheus-text/openmetrics-parser-tests" / case / "metrics").read_bytes()
    if should_parse:
        parse("openmetrics", content)
    else:
        with pytest.raises(ParseFailure):
            parse("openmetrics", content)


def test_openmetrics_large_family_is_cut_into_chunks_without_changing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(text_parsers, "CHUNK_SAMPLE_LINES", 3)
    lines = ["# TYPE h histogram"]
    for g in range(4):
        lines += [f'h_bucket{{g="{g}",le="1.0"}} 1', f'h_bucket{{g="{g}",le="+Inf"}} 2']
        lines += [f'h_count{{g="{g}"}} 2', f'h_sum{{g="{g}"}} 1.5']
    content = ("\n".join([*lines, "# EOF"]) + "\n").encode()
    items = samples(parse("openmetrics", content))
    assert len(items) == 16
    assert [s.line for s in items] == list(range(2, 18))
    assert {s.family_type for s in items} == {"histogram"}


def test_openmetrics_family_declared_twice_across_chunks_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(text_parsers, "CHUNK_SAMPLE_LINES", 2)
    content = (
        b'# TYPE a gauge\na 1\na{x="1"} 2\n'
        b'# TYPE b gauge\nb 1\nb{y="1"} 2\n'
        b'# TYPE a gauge\na{z="1"} 3\n# EOF\n'
    )
    with pytest.raises(ParseFailure, match="appears twice"):
        parse("openmetrics", content)


def test_query_range_json_values_nan_and_inf_are_read_as_floats() -> None:
    doc = {
        "status": "success",
        "data": {
            "resultType": "matrix",
            "result": [
                {
                    "metric": {"__name__": "x", "a": "b"},
                    "values": [[1.5, "NaN"], [2, "+Inf"], [3, "-Inf"], [4, "1e-3"]],
                }
            ],
        },
    }
    items = samples(parse("query_range_json", json.dumps(doc, indent=1).encode()))
    values = [s.value for s in items]
    assert math.isnan(values[0])
    assert values[1:] == [math.inf, -math.inf, 0.001]
    assert [s.ts for s in items] == [1.5, 2.0, 3.0, 4.0]
    assert items[0].labels["a"] == "b"


def test_query_range_json_streams_a_long_series_across_reads() -> None:
    points = ",".join(f'[{1700000000 + i}, "{i}"]' for i in range(20000))
    body = (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        '{"__name__":"x","odd":"}{\\"values\\":"},"values":[' + points + "]}]}}"
    ).encode()
    items = samples(parse("query_range_json", body))
    assert len(items) == 20000
    assert items[-1].value == 19999.0
    assert items[0].labels["odd"] == '}{"values":'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"status":"error","errorType":"bad_data","error":"parse error"}', "parse error"),
        (b'{"status":"success","data":{"resultType":"scalar","result":[1,"1"]}}', "scalar"),
        (
            b'{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"],',
            "truncated",
        ),
        (b"[1, 2, 3]", "expected a JSON object"),
    ],
    ids=["api-error", "scalar", "truncated", "not-an-object"],
)
def test_query_json_that_is_not_usable_fails_as_a_whole(body: bytes, message: str) -> None:
    with pytest.raises(ParseFailure, match=message):
        parse("query_range_json", body)


@pytest.mark.sample_data
def test_native_histogram_series_is_rejected_with_a_reason() -> None:
    path = DATA / "prometheus-api/query_range_native_histogram.openapi-example.json"
    items = parse("query_range_json", path.read_bytes())
    assert len(rejects(items)) == 1
    assert "native histograms are not supported" in rejects(items)[0].reason


def test_csv_reads_iso_and_epoch_timestamps_and_labels() -> None:
    content = (
        b"timestamp,metric,value,labels\n"
        b"2026-03-01T10:00:00Z,power_watts,215.5,gpu=0;UUID=GPU-1\n"
        b"1772359260,power_watts,216,gpu=0;UUID=GPU-1\n"
        b"2026-03-01T10:02:00+01:00,power_watts,1,\n"
        b",power_watts,2,\n"
    )
    with io.BytesIO(content) as f:
        assert detect.detect_format(f) == "csv"
    items = samples(parse("csv", content))
    assert [s.ts for s in items] == [1772359200.0, 1772359260.0, 1772355720.0, None]
    assert items[0].labels == {"gpu": "0", "UUID": "GPU-1"}
    assert [s.line for s in items] == [2, 3, 4, 5]


def test_csv_bad_rows_are_rejected_with_line_and_reason() -> None:
    content = (
        b"1772359200,power_watts,1,gpu=0\n"
        b"yesterday,power_watts,1,\n"
        b"1772359200,power_watts,lots,\n"
        b"1772359200,power_watts\n"
        b"1772359200,power_watts,1,gpu\n"
    )
    items = parse("csv", content)
    assert [(r.line, r.reason.split(" ")[0]) for r in rejects(items)] == [
        (2, "timestamp"),
        (3, "value"),
        (4, "expected"),
        (5, "label"),
    ]
    assert len(samples(items)) == 1


def test_csv_gathers_each_series_of_a_chunk_into_one_batch_in_file_order() -> None:
    content = (
        b"1772359200,power_watts,1,gpu=0\n"
        b"1772359200,power_watts,2,gpu=1\n"
        b"1772359215,power_watts,3,gpu=0\n"
        b"oops,power_watts,9,gpu=1\n"
        b",power_watts,5,gpu=0\n"
        b"1772359230,power_watts,4,gpu=1\n"
    )
    items = list(get_parser("csv")(io.BytesIO(content)))

    assert [type(item).__name__ for item in items] == [
        "ParsedBatch",  # gpu=0, where its first row was
        "ParsedBatch",  # gpu=1
        "Reject",
        "ParsedSample",  # no timestamp: the scrape time applies, sample by sample
    ]
    gpu0, gpu1 = items[0], items[1]
    assert isinstance(gpu0, ParsedBatch) and isinstance(gpu1, ParsedBatch)
    assert (gpu0.labels, gpu0.line, gpu0.ts, gpu0.values) == (
        {"gpu": "0"},
        [1, 3],
        [1772359200.0, 1772359215.0],
        [1.0, 3.0],
    )
    assert (gpu1.line, gpu1.values) == ([2, 6], [2.0, 4.0])
    assert isinstance(items[2], Reject)
    assert (items[2].line, items[2].reason.split(" ")[0]) == (4, "timestamp")
    assert items[3] == ParsedSample(
        5, "power_watts", "power_watts", "unknown", {"gpu": "0"}, 5.0, None
    )


def test_chunks_also_end_at_a_byte_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """Long lines cannot make a chunk of hundreds of megabytes: a chunk ends
    at CHUNK_BYTES too, and the items do not change."""
    text_content = b"# TYPE power_watts gauge\n" + b"".join(
        f'power_watts{{gpu="{i}"}} {i}\n'.encode() for i in range(40)
    )
    csv_content = b"".join(f"1772359200,power_watts,{i},gpu={i}\n".encode() for i in range(40))
    whole_text = parse("prometheus_text", text_content)
    whole_csv = parse("csv", csv_content)

    monkeypatch.setattr(text_parsers, "CHUNK_BYTES", 100)
    monkeypatch.setattr(csv_long, "CHUNK_BYTES", 100)
    text_chunks = list(text_parsers.text_chunks(io.BytesIO(text_content), openmetrics=False))
    csv_chunks = list(csv_long.csv_chunks(io.BytesIO(csv_content)))
    assert len(text_chunks) >= 8
    assert len(csv_chunks) >= 8
    assert parse("prometheus_text", text_content) == whole_text
    assert parse("csv", csv_content) == whole_csv


def test_a_timestamp_no_float_can_hold_is_one_reject() -> None:
    content = b"# TYPE power_watts gauge\npower_watts 1 " + b"9" * 400 + b"\npower_watts 2\n"
    items = parse("prometheus_text", content)
    assert [r.line for r in rejects(items)] == [2]
    assert [s.value for s in samples(items)] == [2.0]


def test_csv_chunks_keep_line_numbers_header_and_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cut into chunks of 2 lines: the header is only skipped as the
    file's first row, a line too long to hold is a reject in its place, and
    every sample keeps its line."""

    monkeypatch.setattr(csv_long, "CSV_CHUNK_LINES", 2)
    content = (
        b"timestamp,metric,value,labels\n"
        b"1772359200,power_watts,1,gpu=0\n"
        b"1772359215,power_watts,2,gpu=0\n" + b"x" * (MAX_LINE_BYTES + 5) + b"\n"
        b"timestamp,metric,value,labels\n"
        b"1772359230,power_watts,3,gpu=0\n"
    )
    items = parse("csv", content)

    assert [(s.line, s.value) for s in samples(items)] == [(2, 1.0), (3, 2.0), (6, 3.0)]
    assert [(r.line, r.reason.split(" ")[0]) for r in rejects(items)] == [
        (4, "line"),
        (5, "timestamp"),
    ]
    assert [item.line for item in items] == [2, 3, 4, 5, 6]  # file order


@pytest.mark.sample_data
def test_detects_openmetrics_by_its_eof_marker() -> None:
    path = DATA / "prometheus-text/prometheus-testdata/promtool_dump-openmetrics-test.prom"
    with path.open("rb") as f:
        assert detect.detect_format(f) == "openmetrics"


@pytest.mark.sample_data
def test_promtool_dump_with_name_in_braces_is_not_mistaken_for_json() -> None:
    path = DATA / "prometheus-text/prometheus-testdata/promtool_dump-test-1.prom"
    with path.open("rb") as f:
        assert detect.detect_format(f) == "prometheus_text"


def test_ten_megabyte_line_is_skipped_in_bounded_memory() -> None:
    import tracemalloc

    from metrics.parsers import iter_lines

    content = io.BytesIO(b"a 1\n" + b"x" * (10 * 1024 * 1024) + b"\nb 2\n")
    tracemalloc.start()
    try:
        lines = [(n, t is None) for n, t, _ in iter_lines(content)]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert lines == [(1, False), (2, True), (3, False)]
    assert peak < 4 * MAX_LINE_BYTES


def test_classic_text_chunks_keep_the_family_type_and_localise_bad_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(text_parsers, "CHUNK_SAMPLE_LINES", 3)
    lines = ["# TYPE h histogram"]
    for g in range(3):
        lines += [f'h_bucket{{g="{g}",le="1.0"}} 1', f'h_bucket{{g="{g}",le="+Inf"}} 2']
        lines += [f'h_count{{g="{g}"}} 2', f'h_sum{{g="{g}"}} 1.5']
    lines[6] = 'h_bucket{g="1",le="+Inf" 2'  # broken, in the second chunk
    items = parse("prometheus_text", ("\n".join(lines) + "\n").encode())
    assert [r.line for r in rejects(items)] == [7]
    good = samples(items)
    assert len(good) == 11
    assert {s.family_type for s in good} == {"histogram"}
    assert [s.line for s in good] == [n for n in range(2, 14) if n != 7]


def _matrix(values_text: str) -> bytes:
    return (
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":'
        '{"__name__":"x","a":"b"},"values":[' + values_text + "]}]}}"
    ).encode()


def test_query_range_json_points_come_in_batches_with_the_same_samples() -> None:
    points = ",".join(f'[{1700000000 + i},"{i}"]' for i in range(5000))
    raw = list(get_parser("query_range_json")(io.BytesIO(_matrix(points))))
    assert any(isinstance(item, ParsedBatch) for item in raw)
    items = samples(parse("query_range_json", _matrix(points)))
    assert [(s.ts, s.value, s.line) for s in items] == [
        (1700000000.0 + i, float(i), 1) for i in range(5000)
    ]


def test_query_range_json_pretty_printed_points_keep_their_line_numbers() -> None:
    points = ",\n".join(f'[{1700000000 + i}, "{i}"]' for i in range(300))
    body = _matrix("\n" + points + "\n")
    items = samples(parse("query_range_json", body))
    assert [s.line for s in items] == list(range(2, 302))


def test_query_range_json_bad_value_inside_a_run_is_rejected_with_its_line() -> None:
    points = [f'[{1700000000 + i}, "{i}"]' for i in range(300)]
    points[150] = '[1700000150, "not-a-number"]'
    items = parse("query_range_json", _matrix("\n" + ",\n".join(points) + "\n"))
    assert [(r.line, "not-a-number" in r.reason) for r in rejects(items)] == [(152, True)]
    assert len(samples(items)) == 299
