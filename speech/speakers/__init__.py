"""Speaker recognition: who is speaking (identification) and is it them (verification).

``speech.SpeakerRecognizer`` (``task.py``) learns x-vector embeddings (``model.py``) from
labelled recordings and keeps a gallery of enrolled voices (``common.verification.Gallery``);
``data.py`` reads one-folder-per-speaker sets and makes synthetic voices for tests and demos.
"""
