"""The server-rendered dashboard (Jinja2 + htmx): messages, timelines, callbacks, a send form."""
