from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        # Red flags follow the vendor and spares writes of the pilots app,
        # which may not import reviews: it sends a signal instead.
        from pilots.signals import vendor_data_changed
        from reviews import tasks_redflags  # noqa: F401 - registers the task
        from reviews.receivers import on_vendor_data_changed

        vendor_data_changed.connect(on_vendor_data_changed, dispatch_uid="reviews.red_flags")
        # And the metrics imports (thermal instability), which metrics announces.
        from metrics.signals import import_succeeded
        from reviews.receivers import on_import_succeeded

        import_succeeded.connect(on_import_succeeded, dispatch_uid="reviews.red_flags_import")
