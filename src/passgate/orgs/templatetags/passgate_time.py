"""`{{ value|local:organisation }}`: a datetime (or ISO string) in the organisation's zone."""

from __future__ import annotations

from django import template

from passgate.orgs.timezones import format_local

register = template.Library()


@register.filter
def local(value, organisation):
    return format_local(organisation, value, "%Y-%m-%d %H:%M", named=False) if value else ""
