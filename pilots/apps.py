from django.apps import AppConfig


class PilotsConfig(AppConfig):
    name = "pilots"
    verbose_name = "Pilots"

    def ready(self) -> None:
        from pilots.attention import attention_cards
        from portal import attention

        attention.register("pilots", attention_cards)
