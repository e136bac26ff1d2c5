"""The bill endpoints and pages: who may do what, the job's answer, the
mappings CRUD, unmatched rows, and pinned query counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from costs.models import BillImport, BillMapping, BillRow
from tests.costs.bill_fixtures import bill_csv, bill_line, import_bill, media
from tests.factories import BackendFactory

__all__ = ["import_bill", "media"]  # fixtures

pytestmark = pytest.mark.django_db
Importer = Callable[..., BillImport]


def upload(content: bytes, name: str = "bill.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content, content_type="text/csv")


# Imports through the API ----------------------------------------------------


def test_finance_uploads_a_bill_and_gets_the_job(
    client: Client, finance: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(finance)
    content = bill_csv(
        bill_line(),
        bill_line(currency="EUR", resource="r-2"),
        bill_line(effective="x", resource="r-3"),
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/bills/", {"file": upload(content)})
    assert response.status_code == 202
    job_id = response.json()["id"]
    assert response["Location"] == f"/api/v1/bills/{job_id}/"
    body = client.get(f"/api/v1/bills/{job_id}/").json()
    assert body["id"] == job_id and body["status"] == "succeeded"
    assert (body["rows_read"], body["rows_stored"], body["rejected"], body["currency_refused"]) == (
        3,
        1,
        2,
        1,
    )
    assert body["rejects"][0] == {
        "line": 3,
        "reason": "BillingCurrency EUR is not the reporting currency USD",
    }
    assert body["rejects"][1]["line"] == 4
    assert body["effective_cost"] == "1.500000000000000"
    assert body["billed_cost"] == "2.000000000000000" and body["list_cost"] == "3.000000000000000"
    assert body["created_by"] == finance.username
    assert body["finished_at"].endswith("Z")
    assert "BillingAccountId" in body["missing_columns"]


@pytest.mark.parametrize("persona", ["pm", "approver", "pilot_team", "procurement"])
def test_other_roles_read_bills_but_cannot_upload(
    client: Client, persona: str, request: pytest.FixtureRequest, import_bill: Importer
) -> None:
    job = import_bill(bill_csv(bill_line()))
    client.force_login(request.getfixturevalue(persona))
    assert client.get(f"/api/v1/bills/{job.pk}/").status_code == 200
    response = client.post("/api/v1/bills/", {"file": upload(bill_csv(bill_line()))})
    assert response.status_code == 403
    assert "Finance analyst" in response.json()["error"]["message"]
    assert BillImport.objects.count() == 1


def test_outsiders_learn_nothing(client: Client, outsider: Any, import_bill: Importer) -> None:
    job = import_bill(bill_csv(bill_line()))
    client.force_login(outsider)
    for url in (
        f"/api/v1/bills/{job.pk}/",
        "/api/v1/bills/",
        "/api/v1/bill-mappings/",
        "/api/v1/bills/unmatched/",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert "bill.csv" not in response.content.decode()
    assert client.post("/api/v1/bills/", {"file": upload(b"x")}).status_code == 403


def test_admins_upload_too(client: Client, admin_user: Any, media: Path) -> None:
    client.force_login(admin_user)
    assert client.post("/api/v1/bills/", {"file": upload(bill_csv(bill_line()))}).status_code == 202


def test_an_upload_without_a_file_names_the_field(
    client: Client, finance: Any, media: Path
) -> None:
    client.force_login(finance)
    response = client.post("/api/v1/bills/", {})
    assert response.status_code == 400
    assert "file" in response.json()["error"]["fields"]


def test_bill_list_endpoint_pins_its_queries(
    client: Client, finance: Any, import_bill: Importer, django_assert_num_queries: Any
) -> None:
    for n in range(3):
        import_bill(bill_csv(bill_line(resource=f"r-{n}")))
    client.force_login(finance)
    # 1. the session
    # 2. the user
    # 3. the user's role groups (HasAnyRole)
    # 4. the page of jobs, creator joined (no COUNT: cursor pagination)
    with django_assert_num_queries(4):
        response = client.get("/api/v1/bills/?page_size=2")
    body = response.json()
    assert len(body["results"]) == 2 and body["next"]
    for n in range(3, 9):
        import_bill(bill_csv(bill_line(resource=f"r-{n}")))
    with django_assert_num_queries(4):
        response = client.get("/api/v1/bills/?page_size=8")
    assert len(response.json()["results"]) == 8


def test_bill_list_filters_by_status(client: Client, finance: Any, import_bill: Importer) -> None:
    import_bill(bill_csv(bill_line()))
    import_bill(b"BilledCost\n1\n")
    client.force_login(finance)
    body = client.get("/api/v1/bills/?status=failed").json()
    assert [job["status"] for job in body["results"]] == ["failed"]
    assert "EffectiveCost" in body["results"][0]["error"]


# Mappings and unmatched rows --------------------------------------------------


def test_finance_manages_bill_mappings_and_rows_follow(
    client: Client, finance: Any, import_bill: Importer
) -> None:
    gpu, wse = BackendFactory.create(slug="gpu"), BackendFactory.create(slug="wse")
    import_bill(bill_csv(bill_line(), bill_line(provider="Oracle", resource="o-1")))
    client.force_login(finance)
    created = client.post(
        "/api/v1/bill-mappings/",
        {"backend": "gpu", "column": "ProviderName", "pattern": "AWS|Oracle", "order": 10},
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    rule = created.json()
    assert rule == {**rule, "backend": "gpu", "column": "ProviderName", "tag_key": "", "order": 10}
    assert BillRow.objects.filter(backend=gpu).count() == 2
    tags_rule = client.post(
        "/api/v1/bill-mappings/",
        {"backend": "wse", "column": "Tags", "tag_key": "team", "pattern": "ml", "order": 5},
        content_type="application/json",
    )
    assert tags_rule.status_code == 201
    changed = client.patch(
        f"/api/v1/bill-mappings/{rule['id']}/", {"pattern": "AWS"}, content_type="application/json"
    )
    assert changed.status_code == 200 and changed.json()["pattern"] == "AWS"
    assert BillRow.objects.filter(backend=gpu).count() == 1
    unmatched = client.get("/api/v1/bills/unmatched/?period=2024-09").json()
    assert unmatched["period"] == "2024-09"
    assert unmatched["total"] == {
        "rows": 1,
        "billed_cost": "2.000000000000000",
        "effective_cost": "1.500000000000000",
        "list_cost": "3.000000000000000",
    }
    assert unmatched["groups"][0]["provider_name"] == "Oracle"
    assert unmatched["groups"][0]["service_name"] == "Amazon EC2"
    listed = client.get("/api/v1/bill-mappings/").json()
    assert [m["order"] for m in listed] == [5, 10]
    assert client.delete(f"/api/v1/bill-mappings/{rule['id']}/").status_code == 204
    assert BillRow.objects.filter(backend__isnull=True).count() == 2
    assert wse.pk


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"backend": "gpu", "column": "ServiceName", "pattern": "(", "order": 1}, "pattern"),
        ({"backend": "gpu", "column": "Tags", "pattern": ".*", "order": 1}, "tag_key"),
        ({"backend": "gpu", "column": "BilledCost", "pattern": ".*", "order": 1}, "column"),
        ({"backend": "nope", "column": "SkuId", "pattern": ".*", "order": 1}, "backend"),
    ],
)
def test_bad_mappings_are_refused_naming_the_field(
    client: Client, finance: Any, body: dict[str, Any], field: str
) -> None:
    BackendFactory.create(slug="gpu")
    client.force_login(finance)
    response = client.post("/api/v1/bill-mappings/", body, content_type="application/json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert BillMapping.objects.count() == 0


def test_a_taken_order_is_refused(client: Client, finance: Any) -> None:
    BackendFactory.create(slug="gpu")
    client.force_login(finance)
    body = {"backend": "gpu", "column": "SkuId", "pattern": ".*", "order": 1}
    assert (
        client.post("/api/v1/bill-mappings/", body, content_type="application/json").status_code
        == 201
    )
    again = client.post("/api/v1/bill-mappings/", body, content_type="application/json")
    assert again.status_code == 400
    assert "order" in str(again.json()["error"]["fields"])


@pytest.mark.parametrize("persona", ["pm", "approver", "pilot_team", "procurement"])
def test_other_roles_cannot_write_mappings(
    client: Client, persona: str, request: pytest.FixtureRequest
) -> None:
    gpu = BackendFactory.create(slug="gpu")
    rule = BillMapping.objects.create(backend=gpu, column="SkuId", pattern=".*", order=1)
    client.force_login(request.getfixturevalue(persona))
    body = {"backend": "gpu", "column": "SkuId", "pattern": "x", "order": 2}
    assert client.get("/api/v1/bill-mappings/").status_code == 200
    assert (
        client.post("/api/v1/bill-mappings/", body, content_type="application/json").status_code
        == 403
    )
    assert (
        client.patch(
            f"/api/v1/bill-mappings/{rule.pk}/", {"pattern": "y"}, content_type="application/json"
        ).status_code
        == 403
    )
    assert client.delete(f"/api/v1/bill-mappings/{rule.pk}/").status_code == 403
    assert BillMapping.objects.get().pattern == ".*"


def test_unmatched_period_is_validated(client: Client, finance: Any) -> None:
    client.force_login(finance)
    response = client.get("/api/v1/bills/unmatched/?period=2024-9")
    assert response.status_code == 400 and "period" in response.json()["error"]["fields"]


def test_the_schema_builds_with_the_bill_endpoints(client: Client, finance: Any) -> None:
    client.force_login(finance)
    response = client.get("/api/v1/schema/?format=json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert {
        "/api/v1/bills/",
        "/api/v1/bills/{id}/",
        "/api/v1/bills/unmatched/",
        "/api/v1/bill-mappings/",
    } <= set(paths)


# Pages -----------------------------------------------------------------------


def test_bill_list_page_pins_its_queries_and_explains_the_costs(
    client: Client, finance: Any, import_bill: Importer, django_assert_num_queries: Any
) -> None:
    for n in range(2):
        import_bill(bill_csv(bill_line(resource=f"r-{n}")))
    client.force_login(finance)
    # 1. the session
    # 2. the user
    # 3. the user's role groups (page guard; cached on the user after)
    # 4. the jobs, creator joined
    with django_assert_num_queries(4):
        response = client.get("/costs/bills/")
    html = response.content.decode()
    assert "EffectiveCost of 0" in html and "BilledCost" in html and "ListCost" in html
    assert "Upload a bill" in html
    for n in range(2, 12):
        import_bill(bill_csv(bill_line(resource=f"r-{n}")))
    with django_assert_num_queries(4):
        client.get("/costs/bills/")


def test_bill_pages_for_a_reader(client: Client, pm: Any, import_bill: Importer) -> None:
    gpu = BackendFactory.create(slug="gpu", name="GPU pool")
    BillMapping.objects.create(backend=gpu, column="ProviderName", pattern="AWS", order=1)
    job = import_bill(
        bill_csv(bill_line(), bill_line(provider="Oracle", resource="o-1", currency="EUR"))
    )
    client.force_login(pm)
    listing = client.get("/costs/bills/").content.decode()
    assert "Upload a bill" not in listing
    detail = client.get(f"/costs/bills/{job.pk}/").content.decode()
    assert "GPU pool" in detail and "BillingCurrency EUR" in detail
    assert "of which 1 in a currency other than USD" in detail
    assert "BilledCost" in detail and "ListCost" in detail
    assert client.get("/costs/bills/new/").status_code == 403
    assert client.get("/costs/bills/mappings/new/").status_code == 403


def test_finance_uploads_on_the_page(
    client: Client, finance: Any, media: Path, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/costs/bills/new/", {"file": upload(bill_csv(bill_line()))})
    job = BillImport.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/costs/bills/{job.pk}/"
    page = client.get(response["Location"]).content.decode()
    assert "Succeeded" in page


def test_finance_edits_mappings_on_the_pages(
    client: Client, finance: Any, import_bill: Importer
) -> None:
    BackendFactory.create(slug="gpu", name="GPU pool")
    import_bill(bill_csv(bill_line()))
    client.force_login(finance)
    bad = client.post(
        "/costs/bills/mappings/new/",
        {"order": 1, "column": "ServiceName", "pattern": "[", "backend": "gpu"},
    )
    assert bad.status_code == 200 and "Not a valid regular expression" in bad.content.decode()
    good = client.post(
        "/costs/bills/mappings/new/",
        {"order": 1, "column": "ServiceName", "pattern": "Amazon EC2", "backend": "gpu"},
    )
    assert good.status_code == 302
    rule = BillMapping.objects.get()
    assert BillRow.objects.get().backend_id == rule.backend_id
    edited = client.post(
        f"/costs/bills/mappings/{rule.pk}/edit/",
        {"order": 1, "column": "Tags", "tag_key": "team", "pattern": ".*", "backend": "gpu"},
    )
    assert edited.status_code == 302
    assert BillRow.objects.get().backend_id is None
    assert "GPU pool" in client.get("/costs/bills/mappings/").content.decode()
    assert client.post(f"/costs/bills/mappings/{rule.pk}/delete/").status_code == 302
    assert not BillMapping.objects.exists()


def test_unmatched_page_lists_rows_with_totals(
    client: Client, finance: Any, import_bill: Importer
) -> None:
    import_bill(bill_csv(bill_line(effective="2.25"), bill_line(resource="r-2", effective="1")))
    client.force_login(finance)
    html = client.get("/costs/bills/unmatched/?period=2024-09").content.decode()
    assert 'data-total="rows">2<' in html and "3.25" in html
    assert (
        "Give a month as YYYY-MM" in client.get("/costs/bills/unmatched/?period=x").content.decode()
    )
