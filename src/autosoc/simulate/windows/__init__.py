"""Windows telemetry: Sysmon, Security and System events in the evtx-JSON shape."""
