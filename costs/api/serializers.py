"""Serializers of the costs API."""
