"""Swagger UI and ReDoc work on a machine without the internet: their scripts and styles come from
this server's static files (drf-spectacular-sidecar, served by WhiteNoise), never from a CDN."""

import re

import pytest
from django.test import Client

ASSET = re.compile(r"""(?:src|href)="([^"]+\.(?:js|css|png))\"""")


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_page_loads_every_asset_from_this_server(path: str) -> None:
    # given
    client = Client()
    # when
    page = client.get(path)
    # then
    assert page.status_code == 200
    assets = ASSET.findall(page.content.decode())
    assert assets, "the page names no script or style"
    assert all(asset.startswith("/static/drf_spectacular_sidecar/") for asset in assets), assets
    # served by WhiteNoise from the apps' static folders, as under `make run`; a built image serves
    # the same paths from collectstatic's output
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert b"".join(response.streaming_content), asset  # type: ignore[attr-defined]
