"""Studio: a desktop node-graph studio for AI video generation."""

__version__ = "0.1.0"
