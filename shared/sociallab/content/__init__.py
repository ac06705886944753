"""Content: templates as data, the Pillow composer, captions and template selection."""
