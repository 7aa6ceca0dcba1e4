"""Self-supervised pretraining of text encoders from unlabelled texts (``masked_lm``)."""
