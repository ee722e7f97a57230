"""CSV import of external sales: one order per (channel, order number), bad orders reported by
line and column while the good ones are imported, a re-import creates nothing."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from passgate.errors import InvalidInput
from passgate.sales.external_import import import_external_sales, read_orders
from passgate.sales.models import Order, Ticket

pytestmark = pytest.mark.django_db

HEADER = "order_number,channel,buyer,payment_mode,season,product,performance,tariff,quantity,barcodes"
FILE = "\n".join([
    HEADER,
    "W-1,OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,ADULT,2,B-1 B-2",   # line 2: order W-1, two tickets
    "W-2,OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,CHILD,1,",          # line 3: no such tariff
    "W-3,OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,ADULT,1,",          # line 4: order W-3 ...
    "W-3,OTIPASS,OTIPASS,PENDING_ACCOUNT,S26,PASS,,ADULT,1,B-3",    # line 5: ... second line of W-3
    "",
    "W-4,OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,ADULT,x,",          # line 7: bad quantity
])


def test_a_bad_line_is_named_and_the_good_orders_are_imported(catalogue, external):
    report = import_external_sales(catalogue.actor, FILE.splitlines())
    assert (report.orders, report.created, report.tickets_created) == (4, 2, 4)
    assert [(e.line, e.field) for e in report.errors] == [(3, "tariff"), (7, "quantity")]
    assert "CHILD" in str(report.errors[0]) and "ADULT" in str(report.errors[0])
    assert sorted(Order.objects.values_list("external_reference", flat=True)) == ["W-1", "W-3"]
    assert Ticket.objects.filter(barcode__in=["B-1", "B-2", "B-3"]).count() == 3


def test_a_reimport_creates_nothing(catalogue, external):
    import_external_sales(catalogue.actor, FILE.splitlines())
    counts = (Order.objects.count(), Ticket.objects.count())
    report = import_external_sales(catalogue.actor, FILE.splitlines())
    assert (report.created, report.already, len(report.errors)) == (0, 2, 2)
    assert (Order.objects.count(), Ticket.objects.count()) == counts
    external.contingent.refresh_from_db()
    assert external.contingent.sold_count == 4


def test_rows_of_one_order_that_disagree_are_refused_on_their_line(catalogue, external):
    text = "\n".join([HEADER, "W-1,OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,ADULT,1,",
                      "W-1,OTIPASS,OTIPASS,EXTERNAL,,PASS,,ADULT,1,"])
    report = import_external_sales(catalogue.actor, text.splitlines())
    assert [(e.line, e.field) for e in report.errors] == [(3, "payment_mode")]
    assert not Order.objects.exists()


def test_a_quota_exhausted_midway_refuses_only_the_orders_beyond_it(catalogue, external):
    rows = [f"Q-{i},OTIPASS,OTIPASS,PENDING_ACCOUNT,,PASS,,ADULT,1," for i in range(7)]
    report = import_external_sales(catalogue.actor, [HEADER, *rows])
    assert report.created == 5  # the contingent's quota
    assert {(e.line, e.field) for e in report.errors} == {(7, "quantity"), (8, "quantity")}
    assert all("quota" in e.message for e in report.errors)


@pytest.mark.parametrize("header", ["order_number,channel,buyer", "order,channel,buyer,product,tariff", ""])
def test_a_wrong_header_refuses_the_file_naming_line_1(header):
    with pytest.raises(InvalidInput) as exc:
        read_orders([header, "W-1,OTIPASS"])
    assert exc.value.field == "line 1"


def test_semicolons_are_read_too():
    orders = read_orders(["order_number;channel;buyer;product;tariff", "W-1;OTIPASS;C1;PASS;ADULT"])
    assert orders == [[(2, {"order_number": "W-1", "channel": "OTIPASS", "buyer": "C1", "product": "PASS",
                            "tariff": "ADULT"})]]


def test_the_command_prints_a_summary_and_the_refused_lines(catalogue, external, tmp_path):
    path = tmp_path / "sales.csv"
    path.write_text(FILE, encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("sales", "import-external", str(path), "--no-progress", stdout=out, stderr=err)
    assert exit_.value.code == 1
    assert "2 created (4 tickets)" in out.getvalue()
    assert f"{path}: line 3, tariff:" in err.getvalue()
    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("sales", "import-external", str(path), "--no-progress", stdout=out, stderr=io.StringIO())
    assert "0 created" in out.getvalue() and "2 already imported" in out.getvalue()
