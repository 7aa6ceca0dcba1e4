"""JSON <-> NumPy conversion following TF Serving's REST rules (``json_tensor.cc``).

Rules implemented here, as TF Serving documents them (``api_rest.md``):

* Request bodies carry either ``instances`` (row format: a list with one entry per example;
  entries are bare values for a one-input signature, or objects keyed by input name) or
  ``inputs`` (columnar: a bare value for a one-input signature, or an object keyed by input
  name). Never both.
* ``DT_STRING`` values are JSON strings or ``{"b64": "..."}`` objects; numbers go to float
  and integer tensors (no fractional values for integers, no booleans for numbers); booleans
  only to ``DT_BOOL``; ``NaN`` / ``Infinity`` are accepted for floats.
* Responses: row format -> ``{"predictions": [...]}`` (bare values per row when the signature
  has one output, else one object per row); columnar -> ``{"outputs": value | {name: value}}``.
  Float values are written so they read back to the identical float32; string outputs
  whose name ends in ``_bytes`` are written as ``{"b64": ...}``.

This module imports NumPy only (no TensorFlow), so the REST client can use it too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from serving.errors import InvalidArgument

Format = Literal["row", "columnar"]

#: TF DataType enum names supported in JSON, with their NumPy equivalents.
DT_TO_NUMPY: dict[str, Any] = {
    "DT_FLOAT": np.float32,
    "DT_DOUBLE": np.float64,
    "DT_HALF": np.float16,
    "DT_INT8": np.int8,
    "DT_INT16": np.int16,
    "DT_INT32": np.int32,
    "DT_INT64": np.int64,
    "DT_UINT8": np.uint8,
    "DT_UINT16": np.uint16,
    "DT_UINT32": np.uint32,
    "DT_UINT64": np.uint64,
    "DT_BOOL": np.bool_,
    "DT_STRING": np.object_,
}

_FLOATS = {"DT_FLOAT", "DT_DOUBLE", "DT_HALF"}
#: bytes one element of a string tensor costs beyond its contents (an object pointer)
STRING_ELEMENT_BYTES = 8
_BYTES_SUFFIX = "_bytes"
_B64 = "b64"


@dataclass(frozen=True)
class TensorSpec:
    """One named tensor of a signature: TF dtype name and shape (``None`` = unknown)."""

    name: str
    dtype: str
    shape: tuple[int | None, ...] | None

    @classmethod
    def from_json(cls, name: str, info: Mapping[str, Any]) -> TensorSpec:
        """Build from the JSON form of a ``TensorInfo`` (as in the metadata response)."""
        shape_info = info.get("tensor_shape") or {}
        if shape_info.get("unknown_rank"):
            shape = None
        else:
            dims = [int(d.get("size", -1)) for d in shape_info.get("dim", [])]
            shape = tuple(None if d < 0 else d for d in dims)
        return cls(name=name, dtype=str(info.get("dtype", "DT_INVALID")), shape=shape)

    @property
    def numpy_dtype(self) -> Any:
        """The NumPy dtype; raises :class:`InvalidArgument` for unsupported types."""
        try:
            return DT_TO_NUMPY[self.dtype]
        except KeyError:
            raise InvalidArgument(
                f"Tensor '{self.name}' has type {self.dtype}, which JSON requests do not support"
            ) from None

    def check(self, array: np.ndarray) -> None:
        """Raise :class:`InvalidArgument` unless ``array`` fits this spec's rank and dims."""
        if self.shape is None:
            return
        if array.ndim != len(self.shape):
            raise InvalidArgument(
                f"Input '{self.name}' must have rank {len(self.shape)} "
                f"(shape {_shape_str(self.shape)}), got rank {array.ndim} "
                f"(shape {list(array.shape)})"
            )
        for want, got in zip(self.shape, array.shape, strict=True):
            if want is not None and want != got:
                raise InvalidArgument(
                    f"Input '{self.name}' must have shape {_shape_str(self.shape)}, "
                    f"got {list(array.shape)}"
                )


def _shape_str(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


# ---------------------------------------------------------------------- size limits


def check_decoded_size(
    name: str, shape: Sequence[int], itemsize: int, limit: int | None, used: int = 0
) -> int:
    """Bytes a tensor of ``shape`` decodes to; :class:`InvalidArgument` past ``limit``.

    A request may declare a shape far larger than the values it carries (a TensorProto with
    one ``float_val`` fills its whole shape), so the element count is checked *before* any
    memory is allocated. ``used`` is what earlier tensors of the same request took; the
    limit is the server's body limit (``--max-body-bytes``): a decoded request may not be
    larger than the largest request body the server accepts. Negative dimensions are
    rejected. Returns ``used`` plus this tensor's bytes.
    """
    dims = [int(d) for d in shape]
    negative = [d for d in dims if d < 0]
    if negative:
        raise InvalidArgument(
            f"Input '{name}' has a negative dimension ({negative[0]}) in shape {dims[:8]}"
        )
    elements = 1
    for dim in dims:  # Python ints: no int64 overflow for absurd shapes
        elements *= dim
    total = used + elements * max(1, int(itemsize))
    if limit is not None and total > limit:
        raise InvalidArgument(
            f"Input '{name}' of shape {dims[:8]} ({elements} elements) makes the request "
            f"decode to more than the {limit}-byte limit (--max-body-bytes)"
        )
    return total


# --------------------------------------------------------------------------- JSON -> array


def is_b64_object(value: Any) -> bool:
    """True for ``{"b64": "<string>"}`` (exactly one key, string value)."""
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64), str)


def decode_b64(value: Mapping[str, str]) -> bytes:
    """Decode a ``{"b64": ...}`` object; standard or URL-safe alphabet, padding optional."""
    text = value[_B64].strip()
    padded = text + "=" * (-len(text) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise InvalidArgument(f"Unable to base64 decode value starting with {text[:32]!r}")


def _itemsize(target: Any) -> int:
    return STRING_ELEMENT_BYTES if target is np.object_ else np.dtype(target).itemsize


def json_to_array(value: Any, spec: TensorSpec, max_bytes: int | None = None) -> np.ndarray:
    """Convert one JSON value (scalar or nested lists) to an array of ``spec``'s dtype.

    Raises :class:`InvalidArgument` for ragged nesting, wrong JSON types, values out of
    range for the dtype, undecodable base64 and tensors over ``max_bytes`` decoded.
    """
    target = spec.numpy_dtype
    try:
        nested = np.array(value, dtype=object)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidArgument(f"Input '{spec.name}' is not a dense tensor: {exc}") from None
    check_decoded_size(spec.name, nested.shape, _itemsize(target), max_bytes)
    leaves = nested.reshape(-1).tolist()
    kinds = set(map(type, leaves))
    if list in kinds:
        raise InvalidArgument(
            f"Input '{spec.name}' is ragged: every list at the same depth must have the same length"
        )
    if spec.dtype == "DT_STRING":
        flat = _strings(leaves, kinds, spec)
    elif spec.dtype in _FLOATS:
        flat = _floats(leaves, kinds, spec, target)
    elif spec.dtype == "DT_BOOL":
        _require(kinds, {bool}, spec)
        flat = np.array(leaves, dtype=np.bool_)
    else:
        flat = _integers(leaves, kinds, spec, target)
    return np.asarray(flat, dtype=target).reshape(nested.shape)


def _require(kinds: set[type], allowed: set[type], spec: TensorSpec) -> None:
    bad = kinds - allowed
    if bad:
        names = ", ".join(sorted(_json_type_name(k) for k in bad))
        raise InvalidArgument(
            f"Input '{spec.name}' expects {spec.dtype} values but got JSON {names}"
        )


def _json_type_name(kind: type) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "number",
        str: "string",
        dict: "object",
        type(None): "null",
    }.get(kind, kind.__name__)


def _strings(leaves: list[Any], kinds: set[type], spec: TensorSpec) -> np.ndarray:
    _require(kinds, {str, dict}, spec)
    out = np.empty(len(leaves), dtype=object)
    for i, leaf in enumerate(leaves):
        if isinstance(leaf, str):
            try:
                out[i] = leaf.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidArgument(
                    f"Input '{spec.name}' has a string that is not valid Unicode; send "
                    'binary data as {"b64": ...}'
                ) from None
        elif is_b64_object(leaf):
            out[i] = decode_b64(leaf)
        else:
            raise InvalidArgument(
                f'Input \'{spec.name}\': objects must be {{"b64": "<base64 string>"}}, got '
                f"keys {sorted(map(str, leaf))[:5]}"
            )
    return out


def _floats(leaves: list[Any], kinds: set[type], spec: TensorSpec, target: Any) -> np.ndarray:
    _require(kinds, {int, float}, spec)
    try:
        wide = np.array(leaves, dtype=np.float64)
    except OverflowError:
        raise InvalidArgument(f"Input '{spec.name}' has a number too large for a float") from None
    info = np.finfo(target)
    finite = wide[np.isfinite(wide)]
    if finite.size and (finite.max() > info.max or finite.min() < info.min):
        raise InvalidArgument(
            f"Input '{spec.name}': a value cannot be converted to {spec.dtype} without loss "
            "of precision (out of range)"
        )
    return wide.astype(target)


def _integers(leaves: list[Any], kinds: set[type], spec: TensorSpec, target: Any) -> np.ndarray:
    _require(kinds, {int}, spec)
    try:
        return np.array(leaves, dtype=target)
    except (OverflowError, ValueError):
        info = np.iinfo(target)
        raise InvalidArgument(
            f"Input '{spec.name}' has a value outside the {spec.dtype} range "
            f"[{info.min}, {info.max}]"
        ) from None


# ---------------------------------------------------------------------- request parsing


def parse_predict_request(
    body: Any, input_specs: Mapping[str, TensorSpec], max_bytes: int | None = None
) -> tuple[dict[str, np.ndarray], Format]:
    """Turn a decoded predict body into named arrays plus the request format.

    ``input_specs`` are the signature's inputs; ``signature_name`` must already have been
    used to pick them (see :func:`signature_name_of`). ``max_bytes`` bounds the decoded
    tensors of the request together (see :func:`check_decoded_size`).
    """
    arrays, fmt = _parse_body(body, input_specs, max_bytes)
    used = 0
    for name, array in arrays.items():
        used = check_decoded_size(name, array.shape, array.dtype.itemsize, max_bytes, used)
    return arrays, fmt


def _parse_body(
    body: Any, input_specs: Mapping[str, TensorSpec], max_bytes: int | None
) -> tuple[dict[str, np.ndarray], Format]:
    if not isinstance(body, dict):
        raise InvalidArgument("Request body must be a JSON object")
    has_instances, has_inputs = "instances" in body, "inputs" in body
    if has_instances and has_inputs:
        raise InvalidArgument("Request must contain only one of 'instances' or 'inputs', not both")
    if not input_specs:
        raise InvalidArgument("The signature has no inputs")
    if has_instances:
        return _parse_rows(body["instances"], input_specs, max_bytes), "row"
    if has_inputs:
        return _parse_columns(body["inputs"], input_specs, max_bytes), "columnar"
    raise InvalidArgument("Missing 'inputs' or 'instances' key")


def signature_name_of(body: Any) -> str | None:
    """The optional ``signature_name`` of a predict body (validated to be a string)."""
    if not isinstance(body, dict):
        raise InvalidArgument("Request body must be a JSON object")
    name = body.get("signature_name")
    if name is not None and not isinstance(name, str):
        raise InvalidArgument("'signature_name' must be a string")
    return name or None


def _parse_rows(
    instances: Any, specs: Mapping[str, TensorSpec], max_bytes: int | None
) -> dict[str, np.ndarray]:
    if not isinstance(instances, list):
        raise InvalidArgument("'instances' must be a list")
    if not instances:
        raise InvalidArgument("No values in 'instances' list")
    names = set(specs)

    def is_named(item: Any) -> bool:
        return isinstance(item, dict) and not is_b64_object(item)

    if not is_named(instances[0]):
        if len(specs) > 1:
            raise InvalidArgument(
                "'instances' is a plain list, but the signature has several inputs "
                f"({', '.join(sorted(names))}): send a list of objects keyed by input name"
            )
        if any(is_named(item) for item in instances):
            raise InvalidArgument("'instances' mixes objects and plain values")
        (spec,) = specs.values()
        return {spec.name: json_to_array(instances, spec, max_bytes)}
    for i, item in enumerate(instances):
        if not is_named(item):
            raise InvalidArgument(f"Expecting an object at item {i} of 'instances'")
        if set(item) != names:
            raise InvalidArgument(
                f"Item {i} of 'instances' has keys {sorted(item)}; expected exactly {sorted(names)}"
            )
    return {
        name: json_to_array([item[name] for item in instances], spec, max_bytes)
        for name, spec in specs.items()
    }


def _parse_columns(
    inputs: Any, specs: Mapping[str, TensorSpec], max_bytes: int | None
) -> dict[str, np.ndarray]:
    if not isinstance(inputs, dict) or is_b64_object(inputs):
        if len(specs) > 1:
            raise InvalidArgument(
                "'inputs' is a plain value, but the signature has several inputs "
                f"({', '.join(sorted(specs))}): send an object keyed by input name"
            )
        (spec,) = specs.values()
        return {spec.name: json_to_array(inputs, spec, max_bytes)}
    missing = [name for name in specs if name not in inputs]
    if missing:
        raise InvalidArgument(f"Missing named input(s) {missing} in 'inputs' object")
    extra = sorted(set(inputs) - set(specs))
    if extra:
        raise InvalidArgument(
            f"Unknown input(s) {extra[:5]} in 'inputs'; the signature takes {sorted(specs)}"
        )
    return {name: json_to_array(inputs[name], spec, max_bytes) for name, spec in specs.items()}


# ---------------------------------------------------------------------- array -> JSON


def array_to_json(array: np.ndarray, name: str) -> Any:
    """Nested lists (or a scalar) for one output tensor, per TF Serving's JSON mapping."""
    array = np.asarray(array)
    if array.dtype.kind in "OSU":
        as_b64 = name.endswith(_BYTES_SUFFIX)
        flat = np.empty(array.size, dtype=object)
        flat[:] = [_string_to_json(v, as_b64) for v in array.reshape(-1).tolist()]
        return flat.reshape(array.shape).tolist()
    # Floats are written as the exact decimal of their (float64-widened) value: it reads
    # back to the identical float32. TF Serving prints the shortest float32 text instead
    # (0.1 rather than 0.10000000149011612); both parse to the same float32, and this is
    # ~100x cheaper in Python.
    return array.tolist()


def _string_to_json(value: Any, as_b64: bool) -> Any:
    if isinstance(value, str):
        value = value.encode("utf-8")
    if not as_b64:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            pass  # not text: JSON cannot carry it as a string, fall back to b64
    return {_B64: base64.b64encode(value).decode("ascii")}


def make_predict_response(outputs: Mapping[str, np.ndarray], fmt: Format) -> dict[str, Any]:
    """The JSON body for a predict answer in ``fmt`` (the request's format)."""
    if not outputs:
        raise InvalidArgument("The signature produced no outputs")
    if fmt == "columnar":
        if len(outputs) == 1:
            ((name, value),) = outputs.items()
            return {"outputs": array_to_json(value, name)}
        return {"outputs": {name: array_to_json(v, name) for name, v in outputs.items()}}
    batch = None
    for name, value in outputs.items():
        if np.ndim(value) == 0:
            raise InvalidArgument(
                f"Output '{name}' is a scalar and cannot be split into rows; use the "
                "columnar 'inputs' format"
            )
        if batch is not None and len(value) != batch:
            raise InvalidArgument(
                f"Output '{name}' has batch size {len(value)}, expected {batch}; use the "
                "columnar 'inputs' format"
            )
        batch = len(value)
    columns = {name: array_to_json(value, name) for name, value in outputs.items()}
    if len(columns) == 1:
        return {"predictions": next(iter(columns.values()))}
    names = list(columns)
    return {"predictions": [{n: columns[n][i] for n in names} for i in range(batch or 0)]}


# ---------------------------------------------------------------------- client helpers


def python_to_json(value: Any) -> Any:
    """Encode what a caller has (arrays, lists, bytes, str, numbers) as a JSON tensor value.

    ``bytes`` become ``{"b64": ...}``; NumPy arrays and scalars become nested lists / plain
    numbers; strings stay strings.
    """
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {_B64: base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "OSU":
            return python_to_json(value.tolist())
        if value.dtype.kind == "V":
            raise TypeError(f"Cannot send structured arrays ({value.dtype})")
        return value.tolist()
    if isinstance(value, np.generic):
        return python_to_json(value.item())
    if isinstance(value, (list, tuple)):
        return [python_to_json(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"Cannot send a value of type {type(value).__name__} as a tensor")
