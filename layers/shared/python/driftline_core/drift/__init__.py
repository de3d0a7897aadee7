"""Drift: the served model's baseline, either monitor's schedule and windows, the alarm, and the retrain."""
