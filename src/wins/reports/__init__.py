"""Reports over a range of business days: volumes, waiting and service times, no-shows (plus CSV)."""
