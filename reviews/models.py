"""Models of the reviews app (filled by the issues that build it)."""
