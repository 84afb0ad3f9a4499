"""The citizens' chat page: static files (index.html, widget.js, ...) and their server (:mod:`web.server`)."""
