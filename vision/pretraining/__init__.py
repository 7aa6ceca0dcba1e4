"""Self-supervised pretraining of image backbones from unlabelled images (``contrastive``)."""
