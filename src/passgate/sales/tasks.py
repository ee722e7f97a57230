"""Background tasks of the sales room (Django's task API, django-tasks-db backend)."""

from __future__ import annotations

from django_tasks import task


@task()
def send_order_email_task(order_email_id: int) -> bool:
    """Send an order's tickets by e-mail (queued by sales.delivery.request_order_email)."""
    from .delivery import send_order_email

    return send_order_email(order_email_id)
