"""Views of the costs API."""
