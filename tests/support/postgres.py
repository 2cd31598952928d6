"""Tests use the runtime's throwaway cluster helper."""

from skewless.runtime.pg_local import available, free_port, throwaway_cluster  # noqa: F401
