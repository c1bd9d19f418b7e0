"""Wiring for NetSuite tests: the adapter over the in-process NetSuite sandbox."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from sandboxes.netsuite import API_ROOT, SERVICE_ITEM_ID, NetSuiteState, create_app
from system_apis.erp.adapters.netsuite import NetSuiteAdapter
from system_apis.http import ResilientClient
from tests.support.business_central import FAST_SETTINGS, US, FaultyTransport
from tests.support.recording import RecordingTransport

NS_BASE_URL = f"https://1234567.suitetalk.api.netsuite.com{API_ROOT}"


@dataclass
class NsHarness:
    """A NetSuite sandbox, the transport that records what reaches it, and an adapter."""

    state: NetSuiteState
    recording: RecordingTransport
    faults: FaultyTransport
    adapter: NetSuiteAdapter

    @property
    def us_subsidiary(self) -> str:
        return self.state.subsidiary_id(US)

    def requests(self, method: str, path_suffix: str) -> list[httpx.Request]:
        return [
            e.request
            for e in self.recording.exchanges
            if e.request.method == method and e.request.url.path.endswith(path_suffix)
        ]


def netsuite_harness(state: NetSuiteState | None = None) -> NsHarness:
    state = state or NetSuiteState()
    recording = RecordingTransport(httpx.ASGITransport(app=create_app(state)))
    faults = FaultyTransport(recording)
    client = ResilientClient(
        backend="erp", base_url=NS_BASE_URL, settings=FAST_SETTINGS, transport=faults
    )
    return NsHarness(
        state, recording, faults, NetSuiteAdapter(client, line_item_id=SERVICE_ITEM_ID)
    )
