"""OutputViewer: plays a finished run's video (play/pause, scrub, frame step, loop, sound).

Video files play through QtMultimedia (QMediaPlayer into a QVideoSink, painted by a
FrameView so it also works offscreen and in screenshots); in-memory frames from a
PreviewVideo node play from a timer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QPushButton, QSlider, QStyle, QVBoxLayout, QWidget

from studio.ui.frame_view import FrameView, frames_of


class OutputViewer(QWidget):
    timeline_requested = Signal()  # add the video shown here to the timeline

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = FrameView("The finished video plays here.")
        self.source: Path | None = None
        self.fps = 24.0
        self._player: Any = None
        self._frames: list[Any] = []
        self._frame_index = 0
        self._frame_timer = QTimer(self)
        self._frame_timer.timeout.connect(self._next_frame)

        style = self.style()
        self._icons = {
            "play": style.standardIcon(QStyle.StandardPixmap.SP_MediaPlay),
            "pause": style.standardIcon(QStyle.StandardPixmap.SP_MediaPause),
        }
        self.play_button = QPushButton()
        self.play_button.setIcon(self._icons["play"])
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFixedWidth(40)
        self.play_button.clicked.connect(self.toggle_play)
        back = QPushButton()
        back.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward))
        back.setToolTip("Previous frame")
        back.setFixedWidth(34)
        back.clicked.connect(lambda: self.step(-1))
        forward = QPushButton()
        forward.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward))
        forward.setToolTip("Next frame")
        forward.setFixedWidth(34)
        forward.clicked.connect(lambda: self.step(1))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, 0)
        self.slider.sliderMoved.connect(self.seek)
        self.loop = QCheckBox("Loop")
        self.loop.setChecked(True)
        self.loop.toggled.connect(self._apply_loop)
        self.time_label = QLabel("0:00.0 / 0:00.0")
        self.time_label.setObjectName("dim")
        add = QPushButton("+ Timeline")
        add.setToolTip("Add this video to the timeline as a shot")
        add.clicked.connect(self.timeline_requested.emit)
        self.title = QLabel("")
        self.title.setObjectName("dim")

        controls = QHBoxLayout()
        controls.setSpacing(6)
        for widget in (back, self.play_button, forward):
            controls.addWidget(widget)
        controls.addWidget(self.slider, 1)
        controls.addWidget(self.time_label)
        controls.addWidget(self.loop)
        controls.addWidget(add)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(self.view, 1)
        layout.addLayout(controls)
        layout.addWidget(self.title)

    # ---- sources ---------------------------------------------------------------------------
    def _ensure_player(self) -> Any:
        if self._player is None:
            from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer, QVideoSink

            self._player = QMediaPlayer(self)
            self._audio = QAudioOutput(self)
            self._sink = QVideoSink(self)
            self._player.setAudioOutput(self._audio)
            self._player.setVideoSink(self._sink)
            self._sink.videoFrameChanged.connect(self._show_video_frame)
            self._player.positionChanged.connect(self._position_changed)
            self._player.durationChanged.connect(lambda d: self.slider.setRange(0, int(d)))
            self._player.playbackStateChanged.connect(self._state_changed)
            self._apply_loop(self.loop.isChecked())
        return self._player

    def warm_up(self) -> None:
        """Load the multimedia backend now (at idle) rather than when the first output arrives."""
        self._ensure_player()

    def show_video(self, path: str | Path, fps: float | None = None, autoplay: bool = True) -> None:
        self._stop_frames()
        self.source = Path(path)
        self.fps = fps or 24.0
        self.title.setText(self.source.name)
        player = self._ensure_player()
        player.setSource(QUrl.fromLocalFile(str(self.source)))
        if autoplay:
            player.play()

    def show_frames(self, frames: Any, fps: float = 24.0, title: str = "") -> None:
        """Play in-memory frames (uint8 [F, H, W, 3]) from a PreviewVideo node."""
        if self._player is not None:
            self._player.stop()
        self.source = None
        self.fps = fps or 24.0
        self._frames = frames_of(frames)
        self._frame_index = 0
        self.slider.setRange(0, max(len(self._frames) - 1, 0))
        self.title.setText(title)
        if self._frames:
            self.view.set_image(self._frames[0])
            self._frame_timer.setInterval(max(1, int(1000 / self.fps)))
            self._frame_timer.start()
            self._set_playing_icon(True)

    def _stop_frames(self) -> None:
        self._frame_timer.stop()
        self._frames = []

    # ---- transport -------------------------------------------------------------------------
    @property
    def playing(self) -> bool:
        if self._frames:
            return self._frame_timer.isActive()
        if self._player is None:
            return False
        from PySide6.QtMultimedia import QMediaPlayer

        return self._player.playbackState() == QMediaPlayer.PlaybackState.PlayingState

    def toggle_play(self) -> None:
        if self._frames:
            if self._frame_timer.isActive():
                self._frame_timer.stop()
                self._set_playing_icon(False)
            else:
                self._frame_timer.start()
                self._set_playing_icon(True)
            return
        if self._player is None:
            return
        if self.playing:
            self._player.pause()
        else:
            self._player.play()

    def step(self, frames: int) -> None:
        """Move ``frames`` frames forward or back, pausing first."""
        if self._frames:
            self._frame_timer.stop()
            self._set_playing_icon(False)
            self._frame_index = (self._frame_index + frames) % len(self._frames)
            self._show_frame_index()
            return
        if self._player is None:
            return
        self._player.pause()
        frame_ms = 1000.0 / self.fps
        position = max(0, min(self._player.duration(), int(self._player.position() + frames * frame_ms)))
        self._player.setPosition(position)

    def seek(self, value: int) -> None:
        if self._frames:
            self._frame_index = value
            self._show_frame_index()
        elif self._player is not None:
            self._player.setPosition(value)

    def _set_playing_icon(self, playing: bool) -> None:
        self.play_button.setIcon(self._icons["pause" if playing else "play"])

    def _apply_loop(self, on: bool) -> None:
        if self._player is not None:
            from PySide6.QtMultimedia import QMediaPlayer

            self._player.setLoops(QMediaPlayer.Loops.Infinite if on else QMediaPlayer.Loops.Once)

    # ---- updates ---------------------------------------------------------------------------
    def _show_video_frame(self, frame: Any) -> None:
        if frame.isValid():
            self.view.set_image(frame.toImage())

    def _position_changed(self, position: int) -> None:
        if not self.slider.isSliderDown():
            self.slider.setValue(position)
        duration = self._player.duration() if self._player is not None else 0
        self.time_label.setText(f"{_clock(position / 1000)} / {_clock(duration / 1000)}")

    def _state_changed(self, state: Any) -> None:
        self._set_playing_icon(self.playing)

    def _next_frame(self) -> None:
        if not self._frames:
            return
        if self._frame_index + 1 >= len(self._frames) and not self.loop.isChecked():
            self._frame_timer.stop()
            self._set_playing_icon(False)
            return
        self._frame_index = (self._frame_index + 1) % len(self._frames)
        self._show_frame_index()

    def _show_frame_index(self) -> None:
        self.view.set_image(self._frames[self._frame_index])
        self.slider.setValue(self._frame_index)
        self.time_label.setText(f"{_clock(self._frame_index / self.fps)} / {_clock(len(self._frames) / self.fps)}")

    def stop(self) -> None:
        self._frame_timer.stop()
        if self._player is not None:
            self._player.stop()
            self._player.setSource(QUrl())


def _clock(seconds: float) -> str:
    seconds = max(0.0, seconds)
    return f"{int(seconds // 60)}:{seconds % 60:04.1f}"
