"""Text encoders: the seam between the index and any embedding model."""
