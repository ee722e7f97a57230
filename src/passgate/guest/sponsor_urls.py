"""Placeholder for the sponsor channel's portal pages (helper `sponsor` writes this module: URL
names portal-sponsor, portal-sponsor-wait, sponsor-decide). Empty: the portal shows no sponsor link."""

urlpatterns: list = []
