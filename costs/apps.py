from django.apps import AppConfig


class CostsConfig(AppConfig):
    name = "costs"
    verbose_name = "Costs"

    def ready(self) -> None:
        from costs.receivers import refresh_after_import
        from metrics.signals import import_succeeded
        from portal.roles import Role, register_home_page

        import_succeeded.connect(refresh_after_import, dispatch_uid="costs.refresh_after_import")
        from costs.receivers_chargeback import count_late_import

        import_succeeded.connect(count_late_import, dispatch_uid="costs.count_late_import")
        from costs.receivers import refresh_after_contract_change
        from pilots.signals import vendor_data_changed

        vendor_data_changed.connect(
            refresh_after_contract_change, dispatch_uid="costs.refresh_after_contract_change"
        )
        # Finance lands on the showback dashboard after logging in.
        register_home_page(Role.FINANCE, "showback")
