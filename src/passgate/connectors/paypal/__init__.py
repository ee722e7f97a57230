"""PayPal: guests pay for WiFi access on the captive portal (Orders v2, webhooks)."""
