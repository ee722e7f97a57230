"""Guest WiFi back office: Locations, NAS clients, Access methods, Access → Tickets (the issued
list, with Create ticket), Connections and Disconnects. Every write goes through guest.services."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from passgate.errors import PassgateError
from passgate.orgs.admin_base import OrgScopedAdmin, ReadOnlyAdmin, actor_for, error_sentence, member_roles
from passgate.orgs.models import Organisation
from passgate.orgs.permissions import Permission, role_allows

from . import delivery, listing, services, sponsor
from .models import (
    AccessMethod,
    Disconnect,
    Format,
    GuestTicket,
    Location,
    NasClient,
    RadiusSession,
    SponsorRequest,
    TicketType,
)

LIVE_REFRESH_SECONDS = 5


def _human_bytes(n: int | None) -> str:
    n = n or 0
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _when(value: dt.datetime | None, zone: zoneinfo.ZoneInfo) -> str:
    return value.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def sessions_fragment(ticket: GuestTicket) -> str:
    """NAS, MAC, IP, start, stop, time, up, down, terminate cause of a ticket's sessions, newest
    first; times in the location's zone."""
    rows = services.ticket_sessions(ticket)
    zone = zoneinfo.ZoneInfo(ticket.location.time_zone)
    body = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "<td>{}</td><td>{}</td><td>{}</td></tr>",
                            ((s.nas or s.nas_ip, s.calling_station, s.framed_ip or "", _when(s.started_at, zone),
                              _when(s.stopped_at, zone) or "open", dt.timedelta(seconds=s.session_time),
                              _human_bytes(s.input_octets), _human_bytes(s.output_octets), s.terminate_cause)
                             for s in rows))
    return format_html("<table><tr><th>NAS</th><th>MAC</th><th>IP</th><th>start</th><th>stop</th>"
                       "<th>time</th><th>up</th><th>down</th><th>cause</th></tr>{}</table>", body)


class LocationForm(forms.ModelForm):
    """Refuses what the portal could not use (unknown language or country, an SMS method of another
    location, a controller URL with unknown placeholders) next to the field at fault."""

    class Meta:
        model = Location
        fields = "__all__"

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        owner = cleaned.get("organisation") or getattr(self.instance, "organisation", None)
        method = cleaned.get("sms_method")
        if method is not None and owner is not None and method.organisation_id != owner.pk:
            return cleaned  # another organisation's method: the admin's tenancy check says so
        candidate = Location(pk=self.instance.pk, **{k: v for k, v in cleaned.items() if k != "organisation"})
        try:
            services.validate_portal_settings(candidate)
        except PassgateError as exc:
            name = exc.field if exc.field in self.fields else None
            self.add_error(name, f"{exc.message} (expected {exc.expected}, found {exc.found})")
        return cleaned


@admin.register(Location)
class LocationAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ACCESS
    form = LocationForm
    list_display = ["code", "name", "ssid", "time_zone", "qr_style", "deliver_print", "deliver_email", "deliver_sms",
                    "languages"]
    search_fields = ["code", "name", "ssid"]
    fieldsets = [
        (None, {"fields": ["organisation", "code", "name", "time_zone", "ssid", "wifi_password", "qr_style",
                           "portal_url", "deliver_print", "deliver_email", "deliver_sms"]}),
        ("Captive portal", {"fields": ["languages", "logo", "controller_login_url", "sms_method", "sms_countries",
                                       "sms_per_number_per_day"]}),
        ("Sponsored access", {"fields": ["sponsors_allowed", "sponsor_method", "sponsor_request_hours"]}),
    ]

    def create_row(self, actor, model, values):
        values.pop("organisation", None)
        sponsor.validate_sponsoring(Location(organisation=actor.organisation, **values))
        return services.create_location(actor, **values)

    def update_row(self, actor, obj, values):
        probe = Location.objects.get(pk=obj.pk)
        for name, value in values.items():
            setattr(probe, name, value)
        sponsor.validate_sponsoring(probe)
        return services.update_location(actor, obj, **values)


class NasClientForm(forms.ModelForm):
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=False),
                             help_text="RADIUS shared secret. Stored encrypted, never shown; leave blank to keep it.")

    class Meta:
        model = NasClient
        fields = ["organisation", "location", "name", "network", "nas_identifier", "coa_port"]


@admin.register(NasClient)
class NasClientAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ACCESS
    form = NasClientForm
    list_display = ["name", "location", "network", "nas_identifier", "coa_port"]

    def save_model(self, request, obj, form, change):
        actor = actor_for(request, obj.organisation)
        secret = form.cleaned_data.get("secret", "")
        if change:
            super().save_model(request, obj, form, change)
            services.set_nas_secret(actor, obj, secret)
        else:
            saved = services.create_nas_client(actor, obj.location, name=obj.name, network=obj.network,
                                               secret=secret, nas_identifier=obj.nas_identifier,
                                               coa_port=obj.coa_port)
            obj.pk = saved.pk


@admin.register(AccessMethod)
class AccessMethodAdmin(OrgScopedAdmin):
    write_permission = Permission.MANAGE_ACCESS
    list_display = ["code", "name", "format", "location", "price", "currency", "devices", "duration",
                    "counted_from", "quota_bytes", "active"]
    list_filter = ["format", "location", "active"]

    def create_row(self, actor, model, values):
        values.pop("organisation", None)
        return services.create_method(actor, values.pop("location"), **values)


# ---------------------------------------------------------------- the issued list

@admin.register(GuestTicket)
class GuestTicketAdmin(OrgScopedAdmin):
    """Access → Tickets: the issued list (seed columns and filters) and Create ticket."""

    write_permission = Permission.SELL
    list_display = ["serial", "created_at", "user_id", "type", "status", "connections_link", "first_login_at",
                    "expires_at", "devices", "time_used", "upload_shown", "download_shown", "username"]
    list_filter = ["type", "status", "devices", "created_at", "first_login_at", "location", "method"]
    search_fields = ["serial", "user_id", "username"]
    list_select_related = ["method", "location"]
    actions = ["cancel", "print_slips", "resend_email", "resend_sms", "export_csv"]
    show_full_result_count = False
    readonly_fields = ["serial", "username", "password", "type", "status", "method", "location", "user_id",
                       "created_at", "valid_from", "expires_at", "first_login_at", "cancelled_at", "devices",
                       "quota_bytes", "bandwidth_up", "bandwidth_down", "idle_timeout", "price", "currency",
                       "extra", "extra_purged_at", "sessions_table"]
    exclude = ["batch", "duration"]

    def get_queryset(self, request):
        qs = super().get_queryset(request)
        conns = request.GET.get("connections")
        qs = qs.annotate(**services.usage_annotations())
        if conns == "0":
            qs = qs.filter(connections=0)
        elif conns == "1+":
            qs = qs.filter(connections__gte=1)
        return qs

    def lookup_allowed(self, lookup, value, request=None):
        return lookup == "connections" or super().lookup_allowed(lookup, value, request)

    def get_changelist(self, request, **kwargs):
        from django.contrib.admin.views.main import ChangeList

        class GuestChangeList(ChangeList):
            def get_filters_params(self, params=None):
                out = super().get_filters_params(params)
                out.pop("connections", None)
                return out

        return GuestChangeList

    def has_add_permission(self, request):
        return self._may_write(request)

    def has_change_permission(self, request, obj=None):
        return False  # a ticket changes through its operations (cancel, re-send), never by hand

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="connections", ordering="connections")
    def connections_link(self, obj):
        url = reverse("admin:guest_radiussession_changelist") + f"?ticket__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.connections)

    @admin.display(description="session time", ordering="session_time")
    def time_used(self, obj):
        return str(dt.timedelta(seconds=int(obj.session_time or 0)))

    @admin.display(description="upload", ordering="upload")
    def upload_shown(self, obj):
        return _human_bytes(obj.upload)

    @admin.display(description="download", ordering="download")
    def download_shown(self, obj):
        return _human_bytes(obj.download)

    @admin.display(description="connections")
    def sessions_table(self, obj):
        """The ticket's sessions; static/guest/sessions-live.js refreshes it from sessions_view."""
        url = reverse("admin:guest_guestticket_sessions", args=[obj.pk])
        return format_html('<div id="guest-sessions" data-url="{}" data-interval="{}">{}</div>', url,
                           LIVE_REFRESH_SECONDS, sessions_fragment(obj))

    class Media:
        js = ["guest/sessions-live.js"]

    def sessions_view(self, request, pk):
        """The sessions table alone (an HTML fragment), for the change page to poll."""
        ticket = self.get_queryset(request).filter(pk=pk).first()
        if ticket is None:
            return HttpResponse("no such ticket", status=404)
        return HttpResponse(sessions_fragment(ticket))  # admin_view marks it never_cache

    # -- operations
    @admin.action(description="Cancel (cuts their open sessions)", permissions=["add"])
    def cancel(self, request, queryset):
        for ticket in queryset:
            try:
                cuts = services.cancel_ticket(actor_for(request, ticket.organisation), ticket)
                self.message_user(request, listing.cancel_message(ticket, cuts), messages.SUCCESS)
            except PassgateError as exc:
                self.message_user(request, f"{ticket.serial}: {error_sentence(exc)}", messages.ERROR)

    @admin.action(description="Print credentials (PDF)")
    def print_slips(self, request, queryset):
        response = HttpResponse(delivery.slip_pdf(list(queryset.select_related("location")[:1000])),
                                content_type="application/pdf")
        response["Content-Disposition"] = 'inline; filename="wifi-tickets.pdf"'
        return response

    def _resend(self, request, queryset, channel):
        for ticket in queryset.select_related("location"):
            try:
                to = delivery.deliver(ticket, channel)
                self.message_user(request, f"{ticket.serial}: sent to {to}.", messages.SUCCESS)
            except PassgateError as exc:
                self.message_user(request, f"{ticket.serial}: {error_sentence(exc)}", messages.ERROR)

    @admin.action(description="Re-send by e-mail", permissions=["add"])
    def resend_email(self, request, queryset):
        self._resend(request, queryset, "EMAIL")

    @admin.action(description="Re-send by SMS", permissions=["add"])
    def resend_sms(self, request, queryset):
        self._resend(request, queryset, "SMS")

    @admin.action(description="Export as CSV")
    def export_csv(self, request, queryset):
        return listing.csv_response(queryset)

    # -- Create ticket: the type, then the method, then the user id and the extra fields
    def add_view(self, request, form_url="", extra_context=None):
        orgs = list(Organisation.objects.filter(pk__in=[o for o, r in member_roles(request).items()
                                                        if role_allows(r, Permission.SELL)]))
        methods = AccessMethod.objects.filter(organisation__in=orgs, active=True).select_related("location")
        ticket_type = request.POST.get("type") or request.GET.get("type") or ""
        method_id = request.POST.get("method") or request.GET.get("method") or ""
        method = methods.filter(pk=method_id).first() if method_id.isdigit() else None
        form = CreateTicketForm(request.POST or None, method=method) if method else None
        if method is not None and request.method == "POST" and form.is_valid():
            actor = actor_for(request, method.organisation)
            data = form.cleaned_data
            try:
                issued = services.issue_tickets(actor, services.IssueRequest(
                    method=method, count=data["count"], type=ticket_type or None, user_id=data["user_id"],
                    extra={k[6:]: v for k, v in data.items() if k.startswith("extra_")},
                    valid_from=data.get("valid_from"), valid_until=data.get("valid_until"),
                    username=data.get("username") or None, password=data.get("password") or None))
                for channel in data.get("deliver", []):
                    to = delivery.deliver(issued.tickets[0], channel)
                    self.message_user(request, f"Sent by {channel.lower()} to {to}.", messages.SUCCESS)
            except PassgateError as exc:
                self.message_user(request, f"Refused — {exc.field + ': ' if exc.field else ''}"
                                           f"{error_sentence(exc)}", messages.ERROR)
            else:
                first = issued.tickets[0]
                slip = reverse("admin:guest_guestticket_slip", args=[first.pk])
                self.message_user(request, format_html(
                    '{} ticket(s) issued (first: {}, username {}). <a href="{}" target="_blank">Print the slip</a>',
                    len(issued.tickets), first.serial, first.username, slip), messages.SUCCESS)
                return HttpResponseRedirect(reverse("admin:guest_guestticket_changelist")
                                            + f"?q={first.serial}" if len(issued.tickets) == 1 else
                                            reverse("admin:guest_guestticket_changelist"))
        wanted = services.FORMAT_OF_TYPE.get(ticket_type)
        choices = [m for m in methods if wanted is None or m.format == wanted]
        context = {**self.admin_site.each_context(request), "title": "Create ticket", "opts": self.model._meta,
                   "types": [(v, label) for v, label in TicketType.choices if v in services.FORMAT_OF_TYPE],
                   "ticket_type": ticket_type, "methods": choices, "method": method, "form": form}
        return TemplateResponse(request, "admin/guest/create_ticket.html", context)

    def get_urls(self):
        urls = [path("<int:pk>/slip.pdf", self.admin_site.admin_view(self.slip_view), name="guest_guestticket_slip"),
                path("<int:pk>/sessions/", self.admin_site.admin_view(self.sessions_view),
                     name="guest_guestticket_sessions")]
        return urls + super().get_urls()

    def slip_view(self, request, pk):
        ticket = self.get_queryset(request).filter(pk=pk).select_related("location").first()
        if ticket is None:
            return HttpResponse("no such ticket", status=404)
        response = HttpResponse(delivery.slip_pdf([ticket]), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="wifi-{ticket.serial}.pdf"'
        return response


class CreateTicketForm(forms.Form):
    """The fields a method asks for: validity for Variable/Special, credentials for Special, its
    extra fields. Checking them is issue_tickets' job; the form only shapes the inputs."""

    count = forms.IntegerField(min_value=1, max_value=services.MAX_COUNT, initial=1)
    user_id = forms.CharField(label="User ID (e-mail or mobile)", required=False, max_length=254)

    def __init__(self, *args, method: AccessMethod, **kwargs):
        super().__init__(*args, **kwargs)
        if method.format != Format.SINGLE:
            self.fields["valid_from"] = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
            self.fields["valid_until"] = forms.DateField(label="Last day", widget=forms.DateInput(attrs={"type": "date"}))
        if method.format == Format.SPECIAL:
            self.fields["username"] = forms.CharField(required=False, max_length=64,
                                                      help_text="Leave blank to generate credentials.")
            self.fields["password"] = forms.CharField(required=False, max_length=64)
        for spec in method.extra_fields:
            kind = {"email": forms.EmailField, "number": forms.DecimalField, "date": forms.DateField}.get(
                spec.get("type"), forms.CharField)
            self.fields[f"extra_{spec['name']}"] = kind(label=spec.get("label") or spec["name"],
                                                       required=bool(spec.get("required")))
        offered = [(c, label) for c, label, on in (("EMAIL", "e-mail", method.location.deliver_email),
                                                   ("SMS", "SMS", method.location.deliver_sms)) if on]
        if offered:
            self.fields["deliver"] = forms.MultipleChoiceField(choices=offered, required=False,
                                                               widget=forms.CheckboxSelectMultiple,
                                                               label="Send to the user ID by")


@admin.register(RadiusSession)
class RadiusSessionAdmin(ReadOnlyAdmin):
    list_display = ["unique_id", "ticket", "nas", "calling_station", "framed_ip", "started_at", "stopped_at",
                    "session_time", "input_octets", "output_octets", "terminate_cause"]
    list_filter = [("stopped_at", admin.EmptyFieldListFilter), "terminate_cause", "nas"]
    search_fields = ["=unique_id", "=username", "=calling_station", "ticket__serial"]
    list_select_related = ["ticket", "nas"]


@admin.register(Disconnect)
class DisconnectAdmin(ReadOnlyAdmin):
    list_display = ["requested_at", "session", "nas", "reason", "attempts", "last_attempt_at", "result",
                    "error_cause"]
    list_filter = ["result", "reason"]


@admin.register(SponsorRequest)
class SponsorRequestAdmin(ReadOnlyAdmin):
    """Sponsored access: who asked whom, and what the sponsor answered."""

    list_display = ["created_at", "guest_email", "guest_name", "sponsor_email", "location", "status", "decided_at",
                    "ticket", "grace_ticket", "client_address"]
    list_filter = ["status", "location", "created_at"]
    search_fields = ["guest_email", "sponsor_email", "guest_name"]
    list_select_related = ["location", "ticket", "grace_ticket"]
