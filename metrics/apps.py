from django.apps import AppConfig


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = "Metrics"

    def ready(self) -> None:
        from metrics.attention import attention_cards
        from portal import attention

        attention.register("metrics", attention_cards)
