"""``nlp.TextGenerator``: a character-level decoder-only transformer language model.

``fit`` learns from plain text (files, folders, TFDS text sets, strings) by next-character
prediction on random windows of ``context_length`` characters; ``evaluate`` reports loss per
character and per token, perplexity and bits per character on non-overlapping windows;
``generate`` continues prompts with greedy decoding or temperature / top-k / top-p sampling.
Generation is one traced graph (key/value-cached steps in a ``tf.while_loop``, stateless
Gumbel-max sampling, core ops only): ``generate`` runs the very function the SavedModel exports,
so a fixed seed gives the same text in Python and in TF Serving.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Iterable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from common.task import Task, TaskConfig
from common.task_parts import config_optimizer
from nlp import inputs as inputs_lib
from nlp.generation import data as data_lib
from nlp.generation.model import CachedStep, build_language_model
from nlp.generation.sampling import Sampling
from nlp.generation.vocabulary import CharVocabulary, learn_characters
from nlp.translation.decoding import prompted_sample_search

VOCABULARIES = ("char",)
PRECISIONS = ("float32", "mixed_bfloat16")
GENERATE_SIGNATURE = [
    tf.TensorSpec([None], tf.string, name="prompt"),
    tf.TensorSpec([], tf.int32, name="max_length"),
    tf.TensorSpec([], tf.bool, name="greedy"),
    tf.TensorSpec([], tf.float32, name="temperature"),
    tf.TensorSpec([], tf.int32, name="top_k"),
    tf.TensorSpec([], tf.float32, name="top_p"),
    tf.TensorSpec([], tf.int32, name="seed"),
]


@dataclasses.dataclass
class TextGeneratorConfig(TaskConfig):
    """Options of ``TextGenerator``; every field is a keyword argument of the constructor."""

    vocabulary: str = "char"  # one id per character (case, spaces and line breaks kept)
    max_vocabulary: int = 512  # rarer characters than the most frequent 510 become [UNK]
    context_length: int = 256  # characters the model sees; prompt + generated must fit in it
    embed_dim: int = 256
    num_layers: int = 4
    num_heads: int = 4
    intermediate_dim: int = 1024
    dropout: float = 0.1
    precision: str = "float32"  # or "mixed_bfloat16": ~3x faster on CPUs with AMX / BF16
    learning_rate: float = 1e-3
    weight_decay: float = 0.1
    warmup_fraction: float = 0.02
    batch_size: int = 32
    windows_per_epoch: int = 0  # random training windows per epoch; 0: text length / context
    max_length: int = 0  # default characters to generate; 0: half the context
    greedy: bool = False  # default decoding: arg-max instead of sampling
    temperature: float = 0.8
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1: no nucleus cut
    seed: int = 0

    def validate(self) -> None:
        if self.vocabulary not in VOCABULARIES:
            raise ValueError(f"vocabulary must be one of {VOCABULARIES}, got {self.vocabulary!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        if self.context_length < 4:
            raise ValueError(f"context_length must be at least 4, got {self.context_length}")
        if self.embed_dim % self.num_heads:
            raise ValueError(
                f"embed_dim {self.embed_dim} is not divisible by num_heads {self.num_heads}"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.windows_per_epoch < 0:
            raise ValueError(f"windows_per_epoch must be >= 0, got {self.windows_per_epoch}")
        self.sampling().validate(self.context_length)

    def sampling(self, **overrides: Any) -> Sampling:
        """The config's sampling defaults with the non-None ``overrides`` applied."""
        fields = {f.name for f in dataclasses.fields(Sampling)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(f"unknown sampling option(s): {', '.join(unknown)}")
        values = {name: getattr(self, name) for name in fields}
        values["max_length"] = values["max_length"] or self.context_length // 2
        values.update({k: v for k, v in overrides.items() if v is not None})
        return Sampling(**values)


class TextGenerator(Task):
    """Language modelling and text generation following the dlsuite task contract."""

    config_class = TextGeneratorConfig
    config: TextGeneratorConfig

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.vocabulary: list[str] | None = None
        self._characters: CharVocabulary | None = None
        self._generate_fn: Any = None

    # ------------------------------------------------------------------ vocabulary and state
    def build_vocabulary(self, text: str | None) -> None:
        """Learn the characters of ``text`` (``fit`` does this on first use)."""
        if self.vocabulary is not None:
            return
        if text is None:
            raise ValueError("the generator has no vocabulary yet: fit it on text first")
        self.vocabulary = learn_characters([text], self.config.max_vocabulary)

    @property
    def characters(self) -> CharVocabulary:
        """The in-graph character tokeniser (built from the vocabulary on first use)."""
        if self._characters is None:
            self.build_vocabulary(None)
            assert self.vocabulary is not None
            self._characters = CharVocabulary(self.vocabulary)
        return self._characters

    def get_state(self) -> dict[str, Any]:
        return {"vocabulary": self.vocabulary}

    def set_state(self, state: Any) -> None:
        self.vocabulary = state.get("vocabulary")
        self._characters = None
        self._generate_fn = None

    # ------------------------------------------------------------------ model
    def build_model(self) -> keras.Model:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        return build_language_model(
            self.characters.size,
            c.context_length,
            c.embed_dim,
            c.num_layers,
            c.num_heads,
            c.intermediate_dim,
            c.dropout,
            c.precision,
        )

    def compile_model(self, model: keras.Model, total_steps: int) -> None:
        model.compile(
            optimizer=config_optimizer(self.config, total_steps, clipnorm=1.0),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )

    # ------------------------------------------------------------------ data
    @staticmethod
    def as_text(data: Any) -> str:
        """A path (text file or folder), a string of text, or a list of documents -> one text.

        A string that names an existing file or folder is read; any other string is the text.
        """
        if isinstance(data, os.PathLike) or (
            isinstance(data, str) and len(data) < 4096 and "\n" not in data and os.path.exists(data)
        ):
            text = data_lib.load_text(data)
        elif isinstance(data, str):
            text = data
        elif isinstance(data, tf.data.Dataset):
            raise ValueError("pass text, a path or a list of documents; not a tf.data.Dataset")
        elif isinstance(data, Iterable):
            text = data_lib.join_documents(data)
        else:
            raise ValueError(f"expected text, a path or documents, got {type(data).__name__}")
        if not text.strip():
            raise ValueError("the text is empty")
        return text

    def _ids(self, text: str) -> tf.Tensor:
        ids = self.characters.encode_text(text)
        needed = self.config.context_length + 1
        if int(tf.size(ids)) < needed:
            raise ValueError(
                f"the text has {int(tf.size(ids))} characters; language modelling needs at least "
                f"context_length + 1 = {needed}"
            )
        return ids

    def make_dataset(self, data: Any, batch_size: int, training: bool) -> tf.data.Dataset:
        """Training: ``windows_per_epoch`` windows at random offsets (reshuffled each epoch).
        Evaluation: non-overlapping windows from the start. Each window is ``(x, y)`` with ``y``
        the next character of every position of ``x``."""
        text = self.as_text(data)
        self.build_vocabulary(text)
        ids = self._ids(text)
        c = self.config
        length, last_start = c.context_length, int(tf.size(ids)) - c.context_length - 1
        if training:
            count = c.windows_per_epoch or max(1, int(tf.size(ids)) // length)
            starts = (
                tf.data.Dataset.random(seed=c.seed, rerandomize_each_iteration=True)
                .take(count)
                .map(lambda r: tf.cast(r % (last_start + 1), tf.int32))
            )
        else:
            starts = tf.data.Dataset.range(0, last_start + 1, length).map(
                lambda s: tf.cast(s, tf.int32)
            )

        def window(start: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            chunk = ids[start : start + length + 1]
            return chunk[:-1], chunk[1:]

        dataset = starts.map(window, num_parallel_calls=tf.data.AUTOTUNE)
        return dataset.batch(batch_size, drop_remainder=training).prefetch(tf.data.AUTOTUNE)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, data: Any, **options: Any) -> dict[str, Any]:
        """Loss (nats) per character and per token, perplexity and bits per character over
        non-overlapping ``context_length`` windows of ``data`` (each window's first positions
        see less context, as in nanoGPT's validation loss). Option: ``batch_size``."""
        batch_size = options.pop("batch_size", None)
        if options:
            raise ValueError(f"unknown evaluate option(s): {', '.join(sorted(options))}")
        text = self.as_text(data)
        self.characters  # noqa: B018  (a fitted vocabulary is required)
        dataset = self.make_dataset(text, int(batch_size or self.config.batch_size), False)
        model = self.model

        @tf.function(autograph=False)  # plain TF code: nothing for autograph to convert
        def summed(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
            logits = model(x, training=False)
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(y, tf.cast(logits, tf.float32))
            return tf.reduce_sum(loss)

        nats, tokens = 0.0, 0
        for x, y in dataset:
            nats += float(summed(x, y))
            tokens += int(tf.size(y))
        # One id per character: the character count of the scored text equals its token count.
        per_token = nats / tokens
        per_char = nats / tokens
        return {
            "loss_per_character": per_char,
            "loss_per_token": per_token,
            "perplexity": math.exp(per_token),
            "bits_per_character": per_char / math.log(2),
            "num_tokens": tokens,
            "num_characters": tokens,
        }

    # ------------------------------------------------------------------ generation (one graph)
    def generate_graph(
        self,
        prompt: tf.Tensor,
        max_length: tf.Tensor,
        greedy: tf.Tensor,
        temperature: tf.Tensor,
        top_k: tf.Tensor,
        top_p: tf.Tensor,
        seed: tf.Tensor,
    ) -> dict[str, tf.Tensor]:
        """Prompts ``[B]`` -> ``text`` (the continuation) and its ``log_prob`` (core ops only).

        What ``generate`` refuses, the graph copes with: a prompt that does not fit is cut to
        its last ``context_length - max_length`` characters, an empty one starts from a line
        break, and ``max_length`` is clipped to ``[1, context_length - 1]``.
        """
        c, characters = self.config, self.characters
        max_length = tf.clip_by_value(max_length, 1, c.context_length - 1)
        ids = characters.encode(prompt)
        keep = c.context_length - max_length
        ids = ids[:, -keep:]
        lengths = tf.cast(ids.row_lengths(), tf.int32)
        dense = ids.to_tensor(default_value=characters.pad_id)
        dense = tf.pad(dense, [[0, 0], [0, 1]], constant_values=characters.pad_id)
        start = characters.token_id("\n", default=characters.size - 1)
        first_column = tf.equal(tf.range(tf.shape(dense)[1]), 0)[tf.newaxis]
        dense = tf.where(tf.equal(lengths, 0)[:, tf.newaxis] & first_column, start, dense)
        lengths = tf.maximum(lengths, 1)
        steps = CachedStep(self.model, c.num_layers, c.num_heads, c.embed_dim)
        generated, log_prob = prompted_sample_search(
            steps.step,
            dense,
            lengths,
            max_length,
            greedy,
            temperature,
            top_k,
            top_p,
            seed,
            banned_ids=(characters.pad_id, characters.unk_id),
            state=steps.initial_state(tf.shape(dense)[0], c.context_length),
        )
        return {"text": characters.decode(generated), "log_prob": log_prob}

    def _generate(self) -> Any:
        if self._generate_fn is None:
            # autograph=False: the graph is explicit (tf.while_loop), and converting it once
            # picked up another function's converted code (the bench's export failed with
            # "tf__summed() takes 2 positional arguments but 8 were given").
            self._generate_fn = tf.function(
                self.generate_graph, input_signature=GENERATE_SIGNATURE, autograph=False
            )
        return self._generate_fn

    @staticmethod
    def _graph_options(options: Sampling) -> list[tf.Tensor]:
        return [
            tf.constant(options.max_length, tf.int32),
            tf.constant(options.greedy, tf.bool),
            tf.constant(options.temperature, tf.float32),
            tf.constant(options.top_k, tf.int32),
            tf.constant(options.top_p, tf.float32),
            tf.constant(options.seed, tf.int32),
        ]

    def _check_prompts(self, prompts: Any, max_length: int) -> tuple[list[str], bool]:
        single = isinstance(prompts, (str, bytes))
        items = [prompts] if single else list(prompts)
        if not items:
            raise ValueError("generate needs at least one prompt, got an empty list")
        checked = []
        room = self.config.context_length - max_length
        for i, item in enumerate(items):
            item = inputs_lib.as_text(item, i, "prompt")
            if not item:
                raise ValueError(f"prompt {i} is empty; give at least one character to continue")
            if len(item) > room:
                raise ValueError(
                    f"prompt {i} has {len(item):,} characters: with max_length {max_length} it "
                    f"exceeds the context of {self.config.context_length} characters (prompt + "
                    f"generated); shorten the prompt to at most {room} characters"
                )
            checked.append(item)
        return checked, single

    def generate(
        self,
        prompt: Any,
        max_length: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        greedy: bool | None = None,
        batch_size: int = 64,
    ) -> Any:
        """Continue a prompt (a string -> a string) or prompts (a list -> a list).

        Options left None take the config's defaults. ``temperature`` must be > 0 (use
        ``greedy=True`` for arg-max decoding), ``top_p`` in (0, 1], ``top_k`` >= 0 (0: off).
        The same prompt, options and seed always give the same text, whichever prompts share
        its batch.
        """
        options = self._sampling(
            max_length=max_length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            greedy=greedy,
        )
        return self._continue(prompt, batch_size, options)["text"]

    def _sampling(self, **overrides: Any) -> Sampling:
        """The config's sampling options with the non-None ``overrides`` (``generate``'s
        keyword options), checked against the context length."""
        options = self.config.sampling(**overrides)
        options.validate(self.config.context_length)
        return options

    def _continue(self, prompt: Any, batch_size: int, options: Sampling) -> dict[str, Any]:
        """Prompt(s) -> ``text`` and ``log_prob`` (one each, or lists), in batches."""
        items, single = self._check_prompts(prompt, options.max_length)
        fn, constants = self._generate(), self._graph_options(options)
        texts, log_probs = [], []
        for i in range(0, len(items), batch_size):
            outputs = fn(tf.constant(items[i : i + batch_size]), *constants)
            texts += [t.decode("utf-8") for t in outputs["text"].numpy()]
            log_probs += outputs["log_prob"].numpy().tolist()
        if single:
            return {"text": texts[0], "log_prob": log_probs[0]}
        return {"text": texts, "log_prob": log_probs}

    def is_single_input(self, inputs: Any) -> bool:
        """One prompt is a ``str`` (or UTF-8 ``bytes``); any other iterable is a list."""
        return isinstance(inputs, (str, bytes)) or not isinstance(inputs, Iterable)

    def predict_batch(self, items: list[Any], **options: Any) -> list[dict[str, Any]]:
        """Prompts -> ``{"prompt", "text", "log_prob"}`` each (options as ``generate``)."""
        batch_size = options.pop("batch_size", 64)
        outputs = self._continue(items, batch_size, self._sampling(**options))
        return [
            {"prompt": p, "text": t, "log_prob": float(s)}
            for p, t, s in zip(items, outputs["text"], outputs["log_prob"], strict=True)
        ]

    # ------------------------------------------------------------------ export
    def serving_endpoints(
        self,
        max_length: int | None = None,
        temperature: float | None = None,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        greedy: bool | None = None,
    ) -> dict[str, Any]:
        """``serving_default``: ``prompt`` (tf.string ``[B]``) -> ``text`` and ``log_prob``, with
        the sampling options fixed (the config's unless given); ``sample``: the same with every
        option an input (scalars ``max_length``, ``greedy``, ``temperature``, ``top_k``,
        ``top_p``, ``seed``)."""
        options = self._sampling(
            max_length=max_length,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            greedy=greedy,
        )
        fn = self._generate()

        def serve(prompt: tf.Tensor) -> dict[str, tf.Tensor]:
            return fn(prompt, *self._graph_options(options))

        return {
            "serving_default": (serve, GENERATE_SIGNATURE[:1]),
            "sample": (fn.python_function, GENERATE_SIGNATURE),
        }

    def warmup_inputs(self) -> dict[str, Any]:
        return {"prompt": np.array([b"The "], dtype=object)}

    def export_trackables(self) -> list[Any]:
        """The character table travels with the exported graph."""
        return [self.characters]
