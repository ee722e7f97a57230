"""Printable tickets: one A4 page per ticket (reportlab), its barcode as a QR code (segno).

The QR holds the ticket's barcode exactly as the door reads it: when the organisation
uses signed barcodes, the barcode *is* the signed payload (access.signing makes it at
sale and at reprint), so a reprint's PDF carries the new barcode and nothing else."""

from __future__ import annotations

import io
from collections.abc import Iterable

import segno
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from passgate.orgs.timezones import format_local

from .models import Order, Ticket

QR_SIZE = 62 * mm
QUIET_MODULES = 4  # the white border a QR reader needs around the code


def ticket_lines(ticket: Ticket) -> list[tuple[str, str]]:
    """The labelled facts printed on a ticket, in print order."""
    org = ticket.organisation
    perf = ticket.performance
    holder = ticket.beneficiary
    lines = [("Product", ticket.product.name)]
    if perf is not None:
        lines.append(("Performance", perf.name or perf.code))
        lines.append(("Date", format_local(org, perf.starts_at, "%A %d %B %Y", named=False)))
        lines.append(("Time", format_local(org, perf.starts_at, "%H:%M", named=False) + f" ({org.time_zone})"))
        if perf.doors_open_at:
            lines.append(("Doors open", format_local(org, perf.doors_open_at, "%H:%M", named=False)))
        venue = ", ".join(part for part in (perf.venue_site, perf.venue_zip, perf.venue_city) if part)
        lines.append(("Venue", venue or "—"))
    lines += [
        ("Tariff", ticket.tariff.name),
        ("Category", ticket.category.name if ticket.category_id else "—"),
        ("Seat", ticket.seat or "Free placement"),
        ("Holder", holder.full_name if holder and holder.full_name else "—"),
        ("File number", ticket.order.file_number),
        ("Price", f"{ticket.price} {ticket.currency}"),
    ]
    return lines


def _draw_qr(canvas: Canvas, text: str, x: float, y: float, size: float) -> None:
    """Dark modules as filled squares: vector, sharp at any print resolution."""
    qr = segno.make(text, error="m", micro=False)
    matrix = [list(row) for row in qr.matrix]
    count = len(matrix) + 2 * QUIET_MODULES
    module = size / count
    canvas.setFillColorRGB(1, 1, 1)
    canvas.rect(x, y, size, size, stroke=0, fill=1)
    canvas.setFillColorRGB(0, 0, 0)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                canvas.rect(x + (c + QUIET_MODULES) * module, y + size - (r + QUIET_MODULES + 1) * module,
                            module, module, stroke=0, fill=1)


def _draw_ticket(canvas: Canvas, ticket: Ticket, index: int, total: int) -> None:
    width, height = A4
    left, top = 20 * mm, height - 20 * mm
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(left, top, ticket.organisation.name)
    canvas.setFont("Helvetica", 9)
    canvas.drawRightString(width - left, top, f"Ticket {index} of {total}")
    canvas.setFont("Helvetica-Bold", 22)
    canvas.drawString(left, top - 14 * mm, ticket.product.name[:48])
    y = top - 26 * mm
    for label, value in ticket_lines(ticket):
        canvas.setFont("Helvetica", 9)
        canvas.drawString(left, y, label)
        canvas.setFont("Helvetica-Bold", 11)
        canvas.drawString(left + 28 * mm, y, value[:40])  # 40 characters stay clear of the QR code
        y -= 7 * mm
    qr_x, qr_y = width - left - QR_SIZE, top - 22 * mm - QR_SIZE
    _draw_qr(canvas, ticket.barcode, qr_x, qr_y, QR_SIZE)
    canvas.setFont("Courier", 7)
    barcode = ticket.barcode
    for i in range(0, len(barcode), 38):  # a signed barcode is 114 characters: three lines
        canvas.drawCentredString(qr_x + QR_SIZE / 2, qr_y - 4 * mm - (i // 38) * 3 * mm, barcode[i:i + 38])
    canvas.setDash(3, 3)
    canvas.line(left, y - 4 * mm, width - left, y - 4 * mm)
    canvas.setDash()
    canvas.setFont("Helvetica", 8)
    canvas.drawString(left, y - 10 * mm, "Show this page (printed or on screen) at the door. The QR code admits "
                                         "once; a reprinted ticket replaces this one.")


def tickets_pdf(tickets: Iterable[Ticket], title: str = "Tickets") -> bytes:
    """A PDF with one page per ticket, in the order given."""
    tickets = list(tickets)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=A4)
    canvas.setTitle(title)
    for i, ticket in enumerate(tickets, start=1):
        _draw_ticket(canvas, ticket, i, len(tickets))
        canvas.showPage()
    canvas.save()
    return out.getvalue()


def printable(tickets):
    """What a ticket PDF reads, in one query."""
    return tickets.select_related("organisation", "order__buyer", "product", "performance", "tariff", "category",
                                  "cultural_contact")


def order_pdf(order: Order, tickets=None) -> bytes:
    """The order's live tickets (cancelled and invalidated ones are not printed)."""
    qs = printable(order.tickets.exclude(status__in=["CANCELLED", "INVALIDATED"]) if tickets is None else tickets)
    return tickets_pdf(qs.order_by("id"), title=f"{order.organisation.name} — file {order.file_number}")


def ticket_pdf(ticket: Ticket) -> bytes:
    return tickets_pdf(printable(Ticket.objects.filter(pk=ticket.pk)),
                       title=f"{ticket.organisation.name} — ticket {ticket.barcode[:16]}")
