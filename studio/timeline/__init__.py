"""The shot timeline over OpenTimelineIO (no Qt)."""
