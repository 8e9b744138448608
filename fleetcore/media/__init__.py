"""Media from the field: what a file's bytes are (``sniff``) and where files live (``store``)."""

MEDIA_UPLOADS_PATH = "/media/uploads"
"""Where the REST API takes resumable uploads (tus); their bodies have their own limits."""
