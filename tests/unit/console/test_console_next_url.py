"""After sign-in the console sends the person back to a page of its own, never to another site."""

from __future__ import annotations

import pytest

from services.console.pages import _local_path


@pytest.mark.parametrize(
    "url", ["/", "/etablissements/0750001U", "/etablissements/0750001U/resultats?classe=TG1"]
)
def test_a_console_path_is_kept(url):
    assert _local_path(url)


@pytest.mark.parametrize(
    "url",
    ["//evil.example", "/\\evil.example", "https://evil.example/", "evil", "/x\\y", "javascript:alert(1)"],
)
def test_another_sites_address_is_not(url):
    assert not _local_path(url)
