"""Replace or add the audio of an encoded video without re-encoding its picture."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from studio.media.audio_io import AudioFeed, encoder_rate, fit_audio, open_media
from studio.media.errors import MediaError
from studio.media.types import Audio
from studio.media.video_io import CONTAINER_FORMATS, GRAPH_TAG, probe_video


def mux_audio(
    source: str | Path,
    target: str | Path,
    audio: Audio,
    *,
    offset: float = 0.0,
    fit: str = "pad",
    fade_out: float = 0.0,
    metadata: dict[str, str] | None = None,
    check_cancelled: Callable[[], None] | None = None,
) -> None:
    """Write ``target``: ``source``'s video packets copied as they are, plus ``audio`` placed by
    ``offset``/``fit``/``fade_out`` (see :func:`fit_audio`) on the video's duration.

    Any audio ``source`` had is dropped. Its container tags (the embedded graph among them) are
    kept, with ``metadata`` overriding. The container follows ``target``'s suffix; AAC goes in
    mp4/mov, Opus in webm/mkv.
    """
    import av

    source, target = Path(source), Path(target)
    suffix = target.suffix.lower()
    if suffix not in CONTAINER_FORMATS:
        raise MediaError(f"cannot write {suffix!r} files; use one of {', '.join(CONTAINER_FORMATS)}")
    facts = probe_video(source)
    if facts.duration <= 0:
        raise MediaError(f"{source.name}: cannot tell how long the video is")
    if offset >= facts.duration:
        raise MediaError(
            f"offset: the audio would start after the video ends (offset {offset} s, video {facts.duration:.3f} s)"
        )
    if -offset >= audio.duration:
        raise MediaError(f"offset: skipping {-offset} s leaves nothing of {audio.duration:.3f} s of audio")
    placed = fit_audio(audio, facts.duration, offset=offset, fit=fit, fade_out=fade_out)
    encoder = "libopus" if suffix in (".webm", ".mkv") else "aac"
    options = {"movflags": "use_metadata_tags"} if suffix in (".mp4", ".mov") else {}
    with open_media(source) as reader:
        in_video = reader.streams.video[0]
        # Matroska stores no per-frame duration; without one the copied last frame would end early.
        frame_ticks = round(1 / (float(in_video.average_rate or facts.fps) * float(in_video.time_base)))
        tags = dict(reader.metadata)
        tags.update(metadata or {})
        try:
            writer = av.open(str(target), mode="w", format=CONTAINER_FORMATS[suffix], options=options)
        except av.error.FFmpegError as exc:
            raise MediaError(f"cannot write {target.name}: {exc}") from None
        with writer:
            for key, value in tags.items():
                if key.lower() in ("encoder", "major_brand", "minor_version", "compatible_brands"):
                    continue  # the muxer writes its own
                writer.metadata[GRAPH_TAG if key.lower() == GRAPH_TAG else key] = value
            try:
                out_video = writer.add_stream_from_template(in_video)
            except (av.error.FFmpegError, ValueError) as exc:
                raise MediaError(
                    f"{in_video.codec_context.name} video cannot go into a {suffix} file ({exc})"
                ) from None
            if in_video.average_rate:
                # Matroska writes the rate as the default frame duration, which the last frame needs.
                out_video.codec_context.framerate = in_video.average_rate
            if suffix == ".mp4" and in_video.codec_context.name == "hevc":
                out_video.codec_tag = "hvc1"
            layout = "stereo" if placed.channels >= 2 else "mono"
            out_audio = writer.add_stream(encoder, rate=encoder_rate(encoder, placed.sample_rate))
            out_audio.layout = layout
            out_audio.bit_rate = 192_000 if layout == "stereo" else 96_000
            feed = AudioFeed(writer, out_audio, placed)
            for packet in reader.demux(in_video):
                if check_cancelled is not None:
                    check_cancelled()
                if packet.dts is None:
                    continue  # the demuxer's end-of-stream marker
                if not packet.duration:
                    packet.duration = frame_ticks
                end = float((packet.pts or 0) + packet.duration) * float(in_video.time_base)
                packet.stream = out_video
                writer.mux(packet)
                feed.feed_until(end)  # keep audio interleaved with the copied video
            feed.finish()
