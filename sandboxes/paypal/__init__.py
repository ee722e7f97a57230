"""PayPal stand-in (Orders v2, approval page, captures, refunds, signed webhooks)."""
