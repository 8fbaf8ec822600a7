"""Video, audio and image reading and writing over PyAV and OpenCV (no Qt)."""
