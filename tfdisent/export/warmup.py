"""TF Serving warmup requests for an exported SavedModel.

``tensorflow_model_server`` replays ``<version>/assets.extra/tf_serving_warmup_requests`` when it
loads a version, before marking it AVAILABLE, so the first real request does not pay for graph
initialisation and memory allocation ("SavedModel Warmup", TF Serving docs,
https://www.tensorflow.org/tfx/serving/saved_model_warmup). The file is a TFRecord of serialized
``tensorflow.serving.PredictionLog`` protos, at most 1000 records, and a record that fails to run
makes the server refuse the whole version. So every record here is derived from the signature it
targets (dtype, shape) and the tests run each one through the SavedModel, under both the TF2
loader and the TF1 session loader the server uses.
"""

from __future__ import annotations

import os
from typing import Dict, Iterable, List, Optional, Sequence

import numpy as np

from tfdisent.export.layout import ASSETS_EXTRA

WARMUP_FILE = "tf_serving_warmup_requests"
# TF Serving stops reading the warmup file after this many records (saved_model_warmup_util).
MAX_WARMUP_RECORDS = 1000
# One request at batch 1 and one at a typical client batch: the server's graph executor caches
# per shape, so warming both removes the first-call latency for single and batched requests.
DEFAULT_BATCH_SIZES = (1, 8)
PREDICT_METHOD = "tensorflow/serving/predict"
SERVING_TAG = "serve"


class WarmupError(ValueError):
    """A warmup request cannot be built or a warmup file is invalid; the message says why."""


def read_signature_defs(saved_model_dir: str, tag: str = SERVING_TAG) -> Dict[str, "object"]:
    """Predict ``SignatureDef`` protos of the ``serve`` MetaGraph, read from ``saved_model.pb``.

    Parsing the proto (instead of loading the model) keeps this cheap and shows exactly what the
    C++ server sees. The ``__saved_model_init_op`` entry is skipped: it is not a predict signature.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    path = os.path.join(saved_model_dir, "saved_model.pb")
    if not os.path.exists(path):
        raise WarmupError(f"{saved_model_dir} holds no saved_model.pb")
    saved_model = saved_model_pb2.SavedModel()
    with open(path, "rb") as f:
        saved_model.ParseFromString(f.read())
    for meta_graph in saved_model.meta_graphs:
        if tag in meta_graph.meta_info_def.tags:
            return {name: sig for name, sig in sorted(meta_graph.signature_def.items())
                    if sig.method_name == PREDICT_METHOD}
    raise WarmupError(f"{path} has no MetaGraph tagged {tag!r}")


def example_input(tensor_info, batch_size: int, random_state: np.random.RandomState) -> np.ndarray:
    """A valid input for one signature input: uint8 pixels, float images in [0, 1], or N(0, 1) codes.

    Only the leading (batch) dimension may be unknown; a model with other free dimensions needs
    explicit warmup inputs, since any guess could fail inside the graph.
    """
    from tensorflow.python.framework import dtypes

    dims = [d.size for d in tensor_info.tensor_shape.dim]
    if tensor_info.tensor_shape.unknown_rank or any(d < 0 for d in dims[1:]):
        raise WarmupError(f"cannot synthesise a warmup input for {tensor_info.name}: only the batch dimension "
                          f"may be unknown, shape is {dims}")
    shape = [batch_size] + dims[1:]
    dtype = dtypes.as_dtype(tensor_info.dtype).as_numpy_dtype
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return random_state.randint(max(info.min, 0), min(info.max, 255) + 1, size=shape).astype(dtype)
    if len(shape) >= 3:  # images: the float signatures document inputs in [0, 1]
        return random_state.uniform(0.0, 1.0, size=shape).astype(dtype)
    return random_state.standard_normal(shape).astype(dtype)  # latent codes: samples of the prior


def warmup_requests(signature_defs: Dict[str, object], model_name: str = "tfdisent",
                    batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, seed: int = 0) -> List[object]:
    """One ``PredictRequest`` per (signature, batch size), in sorted signature order."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    random_state = np.random.RandomState(seed)
    requests = []
    for name, signature in signature_defs.items():
        for batch_size in batch_sizes:
            request = predict_pb2.PredictRequest()
            request.model_spec.name = model_name
            request.model_spec.signature_name = name
            for alias, info in sorted(signature.inputs.items()):
                request.inputs[alias].CopyFrom(tf.make_tensor_proto(example_input(info, batch_size, random_state)))
            requests.append(request)
    if len(requests) > MAX_WARMUP_RECORDS:
        raise WarmupError(f"{len(requests)} warmup records exceed TF Serving's limit of {MAX_WARMUP_RECORDS}")
    return requests


def write_warmup_file(saved_model_dir: str, model_name: str = "tfdisent",
                      batch_sizes: Sequence[int] = DEFAULT_BATCH_SIZES, seed: int = 0,
                      requests: Optional[Iterable[object]] = None) -> str:
    """Writes ``assets.extra/tf_serving_warmup_requests`` for every predict signature; returns its path.

    ``requests`` overrides the synthetic requests (e.g. real images of the training set).
    """
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    if requests is None:
        requests = warmup_requests(read_signature_defs(saved_model_dir), model_name, batch_sizes, seed)
    requests = list(requests)
    if not requests or len(requests) > MAX_WARMUP_RECORDS:
        raise WarmupError(f"a warmup file needs 1 to {MAX_WARMUP_RECORDS} records, got {len(requests)}")
    os.makedirs(os.path.join(saved_model_dir, ASSETS_EXTRA), exist_ok=True)
    path = os.path.join(saved_model_dir, ASSETS_EXTRA, WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for request in requests:
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())
    return path


def read_warmup_file(path: str) -> List[object]:
    """The ``PredictionLog`` records of a warmup file (or of a version directory holding one)."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    if os.path.isdir(path):
        path = os.path.join(path, ASSETS_EXTRA, WARMUP_FILE)
    if not os.path.exists(path):
        raise WarmupError(f"no warmup file at {path}")
    logs = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        logs.append(prediction_log_pb2.PredictionLog.FromString(record))
        if len(logs) > MAX_WARMUP_RECORDS:
            raise WarmupError(f"{path} holds more than {MAX_WARMUP_RECORDS} records; TF Serving would ignore the rest")
    return logs


def replay_warmup(saved_model_dir: str, loaded=None) -> int:
    """Runs every warmup record through the SavedModel's signatures (TF2 loader); returns the count.

    Raises :class:`WarmupError` naming the first record that fails, which is what would make
    ``tensorflow_model_server`` reject the version.
    """
    import tensorflow as tf

    loaded = loaded if loaded is not None else tf.saved_model.load(saved_model_dir)
    logs = read_warmup_file(saved_model_dir)
    for index, log in enumerate(logs):
        if log.WhichOneof("log_type") != "predict_log":
            raise WarmupError(f"warmup record {index} is a {log.WhichOneof('log_type')}, expected predict_log")
        request = log.predict_log.request
        name = request.model_spec.signature_name or "serving_default"
        if name not in loaded.signatures:
            raise WarmupError(f"warmup record {index} targets unknown signature {name!r}")
        inputs = {alias: tf.constant(tf.make_ndarray(proto)) for alias, proto in request.inputs.items()}
        try:
            loaded.signatures[name](**inputs)
        except (TypeError, ValueError, tf.errors.OpError) as error:
            raise WarmupError(f"warmup record {index} ({name}) fails: {error}") from error
    return len(logs)
