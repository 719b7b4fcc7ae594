"""The analytics service's metrics, declared together."""

from prometheus_client import Counter, Gauge, Histogram

FEED_APPLIED = Counter(
    "crm_analytics_feed_changes_total", "Profile change-feed entries applied to the read model."
)
FEED_LAG = Gauge("crm_analytics_feed_lag_changes", "Changes in the profile feed not yet in the read model.")
VIEW_SECONDS = Histogram("crm_analytics_view_seconds", "Time to compute one analytics view.", ["view"])
