"""Medical imaging: DICOM / NIfTI in, diagnosis (``MedicalImageClassifier``) and segmentation
(``MedicalSegmenter``) out, with Grad-CAM (``explain``) and ``health.io`` for files; molecular
property prediction from SMILES (``MoleculePropertyPredictor``, ``health.molecules``);
anomaly detection on signals and time series (``SignalAnomalyDetector``, ``health.anomaly``).

The public names are imported lazily, so ``import health.io`` stays light (no TensorFlow);
``dir(health)`` still lists them.
"""

from common.lazy import lazy_exports

#: Public name -> module that defines it (imported on first access).
_EXPORTS = {
    "MedicalImageClassifier": "health.classification",
    "MedicalImageClassifierConfig": "health.classification",
    "MedicalSegmenter": "health.segmentation",
    "MedicalSegmenterConfig": "health.segmentation",
    "explain": "health.gradcam",
    "grad_cam": "health.gradcam",
    "unique_output_paths": "health.gradcam",
    "load_case_folder": "health.data",
    "load_tfds_medical": "health.tfds_sets",
    "make_phantoms": "health.phantoms",
    "MoleculePropertyPredictor": "health.molecules.task",
    "MoleculePropertyPredictorConfig": "health.molecules.task",
    "SignalAnomalyDetector": "health.anomaly.task",
    "SignalAnomalyDetectorConfig": "health.anomaly.task",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
