"""The interop tests run on the same in-process testbed as the end-to-end flows."""

from tests.flows.conftest import anyio_backend, browser, database_url, testbed_settings

__all__ = ["anyio_backend", "browser", "database_url", "testbed_settings"]
