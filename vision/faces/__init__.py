"""Face recognition: ``FaceRecognizer`` (task.py), face-folder loaders and synthetic faces
(data.py)."""
