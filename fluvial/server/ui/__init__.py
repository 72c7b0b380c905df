"""The web UI: static files shipped as package data (this folder), served at ``/`` by ``fluvial server``
and ``fluvial ui``. See :mod:`fluvial.server.ui.assets`."""
