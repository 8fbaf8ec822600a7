"""The one exception media helpers raise for files they cannot read or write."""

from __future__ import annotations


class MediaError(ValueError):
    """A media file that cannot be read (missing, not media, truncated) or a request it cannot meet.

    The message names the file and says what was wrong, so nodes can show it as is.
    """
