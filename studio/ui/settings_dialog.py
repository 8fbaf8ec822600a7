"""SettingsDialog: model folders, output folder, device, CPU threads, output cache, attention, compile,
allow pickle (off by default) and theme."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from studio.nodeapi import ATTENTION_BACKENDS
from studio.settings import THEMES, Settings

DEVICES = ("auto", "cpu", "cuda", "mps")


class SettingsDialog(QDialog):
    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.resize(560, 440)
        self.folders = QListWidget()
        self.folders.addItems(settings.model_folders)
        add = QPushButton("Add folder…")
        remove = QPushButton("Remove")
        add.clicked.connect(self._add_folder)
        remove.clicked.connect(
            lambda: [self.folders.takeItem(self.folders.row(i)) for i in self.folders.selectedItems()]
        )
        folder_buttons = QHBoxLayout()
        folder_buttons.addWidget(add)
        folder_buttons.addWidget(remove)
        folder_buttons.addStretch(1)
        builtin = QLabel(f"Always searched first: {settings.model_paths()[0]}")
        builtin.setObjectName("dim")
        builtin.setWordWrap(True)

        self.output = QLineEdit(settings.output_dir)
        self.output.setPlaceholderText(str(settings.output_path))
        browse = QPushButton("…")
        browse.setFixedWidth(30)
        browse.clicked.connect(self._choose_output)
        output_row = QHBoxLayout()
        output_row.addWidget(self.output, 1)
        output_row.addWidget(browse)

        self.device = QComboBox()
        self.device.addItems(DEVICES)
        self.device.setCurrentText(settings.device if settings.device in DEVICES else "auto")
        self.cluster = QLineEdit(settings.cluster_address)
        self.cluster.setPlaceholderText("empty: render on this machine")
        self.cluster.setToolTip(
            "The render queue's Ray cluster: HOST:PORT of its head (ray start --head), or 'local' to start "
            "one here. Queued jobs are spread over its workers, which find models in their own folders."
        )
        self.cpu_threads = QSpinBox()
        self.cpu_threads.setRange(0, 1024)
        self.cpu_threads.setValue(max(0, settings.cpu_threads))
        self.cpu_threads.setSpecialValueText("automatic")
        self.cpu_threads.setToolTip(
            "Threads for renders on the CPU. Automatic uses the cores no other program keeps busy "
            "when a render starts; STUDIO_CPU_THREADS in the environment sets it too."
        )
        self.cache_percent = QSpinBox()
        self.cache_percent.setRange(0, 90)
        self.cache_percent.setSuffix(" % of memory")
        self.cache_percent.setValue(settings.cache_percent if 0 <= settings.cache_percent <= 90 else 0)
        self.cache_percent.setSpecialValueText("automatic (10 %)")
        self.cache_percent.setToolTip(
            "How much memory node outputs may keep between runs, so only what changed runs again. "
            "Loaded models have a budget of their own; Run → Clear cache empties it."
        )
        self.allow_pickle = QCheckBox("Allow loading pickled model files (.ckpt, .pt, .bin)")
        self.allow_pickle.setChecked(settings.allow_pickle)
        self.allow_pickle.setToolTip(
            "Pickled files can run arbitrary code when loaded. Leave off unless you trust them."
        )
        self.attention = QComboBox()
        self.attention.addItems(ATTENTION_BACKENDS)
        self.attention.setCurrentText(settings.attention if settings.attention in ATTENTION_BACKENDS else "auto")
        self.attention.setToolTip(
            "Attention kernel for models whose LoadModel says auto. Auto: flash, sage or xformers when "
            "installed and the model runs on a CUDA GPU, else PyTorch's native one."
        )
        self.compile = QCheckBox("Compile models (torch.compile of their repeated blocks)")
        self.compile.setChecked(settings.compile)
        self.compile.setToolTip("The first run of each model is slower while it compiles; later runs are faster.")
        self.theme = QComboBox()
        self.theme.addItems(THEMES)
        self.theme.setCurrentText(settings.theme)

        form = QFormLayout()
        models = QVBoxLayout()
        models.addWidget(self.folders)
        models.addLayout(folder_buttons)
        models.addWidget(builtin)
        form.addRow("Model folders", models)
        form.addRow("Output folder", output_row)
        form.addRow("Device", self.device)
        form.addRow("Render farm", self.cluster)
        form.addRow("CPU threads (0 = automatic)", self.cpu_threads)
        form.addRow("Output cache", self.cache_percent)
        form.addRow("Attention", self.attention)
        form.addRow("Speed", self.compile)
        form.addRow("Safety", self.allow_pickle)
        form.addRow("Theme", self.theme)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def _add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a model folder")
        if folder:
            self.folders.addItem(folder)

    def _choose_output(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.output.text())
        if folder:
            self.output.setText(folder)

    def result_settings(self) -> Settings:
        return Settings(
            model_folders=[self.folders.item(i).text() for i in range(self.folders.count())],
            output_dir=self.output.text().strip(),
            device=self.device.currentText(),
            cluster_address=self.cluster.text().strip(),
            cpu_threads=self.cpu_threads.value(),
            cache_percent=self.cache_percent.value(),
            allow_pickle=self.allow_pickle.isChecked(),
            theme=self.theme.currentText(),
            attention=self.attention.currentText(),
            compile=self.compile.isChecked(),
        )
