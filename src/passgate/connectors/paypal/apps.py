from django.apps import AppConfig


class PaypalConfig(AppConfig):
    name = "passgate.connectors.paypal"
    label = "connector_paypal"
    verbose_name = "PayPal"

    def ready(self) -> None:
        from passgate.guest.channels import PaymentProvider, register_payment_provider

        from . import services, views

        register_payment_provider(PaymentProvider(code="PAYPAL", label="PayPal", start=views.start,
                                                  available=services.available))
