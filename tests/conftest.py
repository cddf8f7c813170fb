"""Shared test configuration.

Every test runs on `ScriptedModel`: no network, no real model, no sleeps.
"""

from __future__ import annotations

import warnings

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    # pytest-asyncio, when it happens to be installed, warns at configure time that its
    # `asyncio_default_fixture_loop_scope` option is unset; with `filterwarnings = error` that
    # warning aborts the whole session. The suite does not use the plugin (async code runs through
    # `asyncio.run`), so that one warning is silenced while plugins configure; every other warning
    # stays an error.
    if config.pluginmanager.has_plugin("asyncio") and not config.getini(
        "asyncio_default_fixture_loop_scope"
    ):
        warnings.filterwarnings(
            "ignore",
            message='The configuration option "asyncio_default_fixture_loop_scope" is unset',
            category=pytest.PytestDeprecationWarning,
        )
