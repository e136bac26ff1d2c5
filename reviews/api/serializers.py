"""Serializers of the reviews API."""
