"""Medical imaging: DICOM / NIfTI classification and segmentation."""
