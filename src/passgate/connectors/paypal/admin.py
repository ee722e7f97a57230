"""PayPal in the back office: accounts (the secret is write-only: never shown, a blank save keeps it),
payments (reference, status, amount, payer, ticket) and the webhooks received, forged ones included."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from passgate.orgs.admin_base import OrgScopedAdmin, ReadOnlyAdmin, actor_for
from passgate.orgs.permissions import Permission

from . import services
from .models import PaypalAccount, PaypalPayment, PaypalWebhookEvent


class PaypalAccountForm(forms.ModelForm):
    base_url = forms.URLField(label="API base URL", assume_scheme="https",
                              help_text="https://api-m.paypal.com (live) or https://api-m.sandbox.paypal.com.")
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                             help_text="The REST app's secret. Stored encrypted, never shown; leave blank to keep it.")

    class Meta:
        model = PaypalAccount
        fields = ["organisation", "location", "base_url", "client_id", "webhook_id", "brand_name", "active"]


@admin.register(PaypalAccount)
class PaypalAccountAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ACCESS
    form = PaypalAccountForm
    list_display = ["client_id", "location", "base_url", "webhook_id", "webhook_url", "active"]

    @admin.display(description="webhook URL to give PayPal")
    def webhook_url(self, obj: PaypalAccount) -> str:
        return reverse("paypal-webhook", kwargs={"account": obj.pk}) if obj.pk else ""

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        secret = form.cleaned_data.get("secret", "")
        if change:
            super().save_model(request, obj, form, change)
            services.set_secret(actor, obj, secret)
        else:
            saved = services.create_account(actor, client_id=obj.client_id, secret=secret, base_url=obj.base_url,
                                            webhook_id=obj.webhook_id, location=obj.location,
                                            brand_name=obj.brand_name)
            obj.pk = saved.pk


@admin.register(PaypalPayment)
class PaypalPaymentAdmin(ReadOnlyAdmin):
    list_display = ["reference", "created_at", "status", "amount", "currency", "method", "days", "payer_email",
                    "ticket_link", "order_id", "capture_id"]
    list_filter = ["status", "location", "created_at"]
    search_fields = ["reference", "order_id", "capture_id", "payer_email", "ticket__serial"]
    list_select_related = ["method", "ticket"]

    @admin.display(description="ticket")
    def ticket_link(self, obj: PaypalPayment) -> str:
        if obj.ticket_id is None:
            return "—"
        return format_html('<a href="{}">{}</a>', reverse("admin:guest_guestticket_change", args=[obj.ticket_id]),
                           obj.ticket.serial)


@admin.register(PaypalWebhookEvent)
class PaypalWebhookEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "event_type", "event_id", "resource_id", "verified", "outcome"]
    list_filter = ["verified", "event_type", "received_at"]
    search_fields = ["event_id", "resource_id"]
