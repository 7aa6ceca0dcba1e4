"""Every landed task's model-ready examples survive a TFRecord round trip (data larger than
memory)."""

from __future__ import annotations

import pytest
import tensorflow as tf

from common.data import read_tfrecords, write_tfrecords


def _vision_classifier():
    from vision import ImageClassifier, make_shapes

    shapes = make_shapes(12, image_size=24)
    return ImageClassifier(classes=shapes.class_names, image_size=24), shapes


def _detector():
    from vision import ObjectDetector, make_shape_scenes

    scenes = make_shape_scenes(6, image_size=64)
    return ObjectDetector(classes=scenes.class_names, image_size=64), scenes


def _segmenter():
    from vision import ImageSegmenter, make_shape_masks

    masks = make_shape_masks(6, image_size=64)
    return ImageSegmenter(classes=masks.class_names, image_size=64), masks


def _text_classifier():
    from nlp import TextClassifier
    from nlp.data import make_sentiment

    data = make_sentiment(12)
    return TextClassifier(classes=sorted(set(data.labels))), data


def _tagger():
    from nlp import EntityTagger
    from nlp.data import make_ner

    data = make_ner(12)
    return EntityTagger(entity_types=["PER", "LOC", "ORG"]), data


def _speech():
    from speech import SpeechRecognizer, make_utterances

    utterances = make_utterances(6)
    alphabet = "".join(sorted(set("".join(utterances.transcripts))))
    return SpeechRecognizer(alphabet=alphabet), utterances


def _medical_segmenter():
    from health.phantoms import make_phantoms
    from health.segmentation import MedicalSegmenter

    phantoms = make_phantoms(4, shape=(32, 32))
    return MedicalSegmenter(classes=phantoms.class_names, patch_size=[32, 32]), phantoms


TASKS = {
    "image_classifier": _vision_classifier,
    "object_detector": _detector,
    "image_segmenter": _segmenter,
    "text_classifier": _text_classifier,
    "entity_tagger": _tagger,
    "speech_recognizer": _speech,
    "medical_segmenter": _medical_segmenter,
}


@pytest.mark.parametrize("name", sorted(TASKS))
def test_model_ready_examples_round_trip_through_tfrecord_shards(name, tmp_path):
    task, data = TASKS[name]()
    examples = task.make_dataset(data, batch_size=2, training=False).unbatch().take(4)
    write_tfrecords(examples, tmp_path / name, num_shards=2)
    restored = read_tfrecords(tmp_path / name, deterministic=True)
    same_dtypes = tf.nest.map_structure(
        lambda a, b: a.dtype == b.dtype, restored.element_spec, examples.element_spec
    )
    assert all(tf.nest.flatten(same_dtypes))

    # shards interleave, so compare the examples as a multiset of their serialised bytes
    def fingerprints(dataset):
        return sorted(
            b"".join(tf.io.serialize_tensor(t).numpy() for t in tf.nest.flatten(element))
            for element in dataset
        )

    assert fingerprints(restored) == fingerprints(examples)
    assert len(fingerprints(restored)) == 4
