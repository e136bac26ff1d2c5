"""Services of the reviews app, one module per topic: ``redflags`` (red
flags raised and cleared from data). Import from the topic module
(``from reviews.services.redflags import red_flags_evaluate``)."""
