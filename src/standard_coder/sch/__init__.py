"""sch package."""
