"""Options every outgoing gRPC channel uses."""

CHANNEL_OPTIONS = [
    # Spread calls over every address a name resolves to (replicas behind a headless Service).
    ("grpc.lb_policy_name", "round_robin"),
    # After an outage, reconnect within a couple of seconds instead of gRPC's default of minutes.
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
]
