"""Every domain's TFDS loader passes ``download`` to ``common.data.load_tfds`` (no network).

``tfds.load`` is replaced by a recorder: a set is "on disk" only after a download, which
serves TFDS mock data, so each test sees which ``download`` flags reached TFDS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

import common.data as data_lib


def _images(**kw: Any) -> int:
    from vision.data import load_tfds_images

    dataset, names = load_tfds_images("mnist", **kw)
    assert names == [str(i) for i in range(10)]
    return len(list(dataset))


def _detection(**kw: Any) -> int:
    from vision.detection.data import load_tfds_detection

    dataset, names = load_tfds_detection("voc/2007", **kw)
    assert len(names) == 20
    return len(list(dataset))


def _segmentation(**kw: Any) -> int:
    from vision.segmentation.data import load_tfds_segmentation

    dataset, names = load_tfds_segmentation("oxford_iiit_pet", **kw)
    assert names == ["pet", "background", "border"]
    return len(list(dataset))


def _medical(**kw: Any) -> int:
    from health.tfds_sets import load_tfds_medical

    return len(load_tfds_medical("patch_camelyon", **kw))


def _speech(**kw: Any) -> int:
    from speech.data import load_tfds_speech

    utterances = load_tfds_speech("speech_commands", **kw)
    assert all(not t.isdigit() for t in utterances.transcripts)
    return len(utterances.audio)


def _translation(**kw: Any) -> int:
    from nlp.translation.data import load_tfds_parallel

    pairs = load_tfds_parallel("ted_hrlr_translate/pt_to_en", **kw)
    return len(pairs) + pairs.skipped_empty


def _squad(**kw: Any) -> int:
    from nlp.qa.squad import load_tfds_squad

    return len(load_tfds_squad("squad/v1.1", split="train", **kw))


def _text(**kw: Any) -> int:
    from nlp.data import load_tfds_text

    return len(load_tfds_text("imdb_reviews", **kw))


LOADERS: dict[str, Callable[..., int]] = {
    "vision": _images,
    "detection": _detection,
    "segmentation": _segmentation,
    "health": _medical,
    "speech": _speech,
    "translation": _translation,
    "squad": _squad,
    "text": _text,
}
EXAMPLES = 2


@pytest.fixture
def tfds_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """The ``download`` flag of each ``tfds.load`` call; the machine is "online"."""
    import tensorflow_datasets as tfds

    real_load = tfds.load
    calls: list[bool] = []

    def load(name: str, *args: Any, download: bool = True, **kwargs: Any) -> Any:
        calls.append(download)
        if not download:  # what TFDS raises for a set that is not prepared in data_dir
            raise FileNotFoundError(f"{name} is not prepared")
        return real_load(name, *args, download=False, **kwargs)

    monkeypatch.setattr(tfds, "load", load)
    monkeypatch.setattr(data_lib, "is_online", lambda timeout=3.0: True)
    with tfds.testing.mock_data(num_examples=EXAMPLES):
        yield calls


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_download_flag_reaches_tfds(loader, tfds_calls, monkeypatch, tmp_path):
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "0")  # download=True wins over the setting
    assert loader(data_dir=tmp_path, download=True) == EXAMPLES
    assert tfds_calls == [False, True]  # look on disk first, then download
    tfds_calls.clear()
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")  # download=False wins over the setting
    with pytest.raises(data_lib.DatasetNotOnDiskError, match=r"download=False.*--data-dir DIR"):
        loader(data_dir=tmp_path, download=False)
    assert tfds_calls == [False]


@pytest.mark.parametrize("loader", LOADERS.values(), ids=LOADERS.keys())
def test_default_downloads_unless_turned_off(loader, tfds_calls, monkeypatch, tmp_path):
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "1")
    assert loader(data_dir=tmp_path) == EXAMPLES
    assert tfds_calls == [False, True]
    tfds_calls.clear()
    monkeypatch.setenv(data_lib.DOWNLOAD_ENV, "0")
    with pytest.raises(data_lib.DatasetNotOnDiskError, match=data_lib.DOWNLOAD_ENV):
        loader(data_dir=tmp_path)
    assert tfds_calls == [False]
