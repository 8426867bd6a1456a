"""A stand-in for ``kerasncp`` that kerasncp_go.compat puts on sys.path, so that
processes started with the spawn method (which import the script afresh,
with the parent's sys.path) get kerasncp_go as well."""

from kerasncp_go.compat import _become

_become(__name__)
