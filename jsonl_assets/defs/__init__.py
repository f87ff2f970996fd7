"""The Dagster layer: assets, checks, jobs, schedules, sensors, resources, Definitions."""
