"""Shared runtime for every PAHT service: settings, persistence, events, gRPC, auth, telemetry, pages."""
