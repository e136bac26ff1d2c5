"""Views of the reviews API."""
