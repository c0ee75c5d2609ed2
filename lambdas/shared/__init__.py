"""Shared handler library: caption model, S3 access, settings, errors, observability."""
