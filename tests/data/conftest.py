"""Fixtures of the data tests: tiny releases of every raw format, prepared once for the package."""

import pytest

from tests.support.prepared_data import prepare_every_format


@pytest.fixture(scope="package")
def data(tmp_path_factory):
    """``(root, {dataset: expected pairs})`` of ``prepare_every_format`` (read only)."""
    return prepare_every_format(tmp_path_factory.mktemp("data"))
