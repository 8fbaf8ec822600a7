"""FrameView: paints one image, letterboxed; and helpers turning uint8 RGB arrays into QImages."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QSizePolicy, QWidget

from studio.ui import theme


def array_to_qimage(array: Any) -> QImage:
    """A QImage copy of a uint8 ``[H, W, 3]`` (RGB) or ``[H, W, 4]`` (RGBA) array."""
    import numpy as np

    data = np.ascontiguousarray(array)
    if data.dtype != np.uint8:
        data = np.clip(data, 0, 255).astype(np.uint8)
    if data.ndim == 2:
        data = np.repeat(data[:, :, None], 3, axis=2)
    height, width, channels = data.shape
    fmt = QImage.Format.Format_RGBA8888 if channels == 4 else QImage.Format.Format_RGB888
    return QImage(data.data, width, height, width * channels, fmt).copy()


def frames_of(image: Any) -> list[QImage]:
    """Every frame of a preview: ``[H, W, 3]`` gives one, ``[F, H, W, 3]`` gives F."""
    shape = getattr(image, "shape", ())
    if len(shape) == 4:
        return [array_to_qimage(frame) for frame in image]
    if len(shape) in (2, 3):
        return [array_to_qimage(image)]
    return []


class FrameView(QWidget):
    """Shows ``image`` scaled to fit, centred on a dark backdrop, with an optional caption."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.image: QImage | None = None
        self.placeholder = placeholder
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(160, 110)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 240)

    def set_image(self, image: QImage | None) -> None:
        self.image = image
        self.update()

    def paintEvent(self, event: Any) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#0e0f12") if theme.current().name == "dark" else QColor("#d9dce3"))
        if self.image is None or self.image.isNull():
            painter.setPen(QColor(theme.current().dim_text))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        size = self.image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        target = QRectF(
            (self.width() - size.width()) / 2, (self.height() - size.height()) / 2, size.width(), size.height()
        )
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(target, self.image)
