"""Clients of a TF Serving model server (REST JSON or gRPC) that encode images into representations.

Works against ``tensorflow_model_server`` (Docker image ``tensorflow/serving``, see
``serving/README.md``) and against :mod:`tfdisent.serving_double`. Protocols:

* REST (https://www.tensorflow.org/tfx/serving/api_rest): ``POST /v1/models/<m>[/versions/<v>]:predict``
  with the *row* form ``{"signature_name": s, "instances": [...]}`` (answer ``{"predictions": [...]}``)
  or the *columnar* form ``{"signature_name": s, "inputs": {...}}`` (answer ``{"outputs": {...}}``).
  Needs neither grpc nor TensorFlow, so it starts in well under a second.
* gRPC ``tensorflow.serving.PredictionService/Predict`` with ``TensorProto`` payloads (default port
  8500); 4x smaller requests than JSON for uint8 pixels.

The representation is the encoder mean, disentanglement_lib's ``mean_representation``
(Locatello et al. 2019); ``sampled`` draws ``mean + exp(logvar / 2) * eps`` instead.
"""

from __future__ import annotations

import csv
import glob
import json
import os
import urllib.error
import urllib.request
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from tfdisent.export.status import ServingError, code_from_http_status

DEFAULT_MODEL_NAME = "tfdisent"
DEFAULT_SIGNATURE = "serving_default"
UINT8_SIGNATURE = "encode_uint8"
DEFAULT_GRPC_TARGET = "localhost:8500"
DEFAULT_REST_URL = "http://localhost:8501"
REPRESENTATIONS = ("mean", "sampled")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_DTYPE_NAMES = {"DT_FLOAT": "float32", "DT_UINT8": "uint8", "DT_DOUBLE": "float64", "DT_INT32": "int32",
                "DT_INT64": "int64", "DT_STRING": "string", "DT_HALF": "float16"}


def _summarise_signatures(signature_defs: Mapping[str, Mapping]) -> Dict[str, dict]:
    """{signature: {"inputs": {alias: (dtype, shape)}, "outputs": {...}}} from SignatureDef dicts."""
    summary = {}
    for name, signature in signature_defs.items():
        entry = {}
        for side in ("inputs", "outputs"):
            entry[side] = {}
            for alias, info in signature.get(side, {}).items():
                dims = info.get("tensor_shape", {}).get("dim", [])
                entry[side][alias] = (_DTYPE_NAMES.get(info.get("dtype"), info.get("dtype")),
                                      [int(d.get("size", -1)) for d in dims])
        summary[name] = entry
    return summary


class RestClient:
    """TF Serving's RESTful predict API (row or columnar JSON)."""

    def __init__(self, url: str = DEFAULT_REST_URL, model_name: str = DEFAULT_MODEL_NAME,
                 version: Optional[int] = None, label: Optional[str] = None, timeout: float = 60.0):
        if "://" not in url:
            url = "http://" + url
        self.url, self.model_name, self.version, self.label = url.rstrip("/"), model_name, version, label
        self.timeout = timeout
        self._signatures: Optional[Dict[str, dict]] = None

    @property
    def model_url(self) -> str:
        url = f"{self.url}/v1/models/{self.model_name}"
        if self.version is not None:
            url += f"/versions/{int(self.version)}"
        elif self.label:
            url += f"/labels/{self.label}"
        return url

    def _call(self, url: str, body: Optional[dict] = None) -> dict:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"},
                                         method="GET" if body is None else "POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode(errors="replace")
            try:
                message = json.loads(text).get("error", text)
            except ValueError:
                message = text or error.reason
            raise ServingError(code_from_http_status(error.code), message) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            reason = getattr(error, "reason", error)
            raise ServingError("UNAVAILABLE", f"cannot reach {url}: {reason}; is the model server running and "
                               "its REST port (--rest_api_port, 8501 by default) published?") from None

    def status(self) -> dict:
        """``GET /v1/models/<m>``: ``{"model_version_status": [{"version", "state", "status"}]}``."""
        return self._call(self.model_url)

    def metadata(self) -> Dict[str, dict]:
        """Signatures served: {name: {"inputs": {alias: (dtype, shape)}, "outputs": {...}}}."""
        if self._signatures is None:
            body = self._call(self.model_url + "/metadata")
            defs = body.get("metadata", {}).get("signature_def", {}).get("signature_def", {})
            self._signatures = _summarise_signatures(defs)
        return self._signatures

    def predict(self, inputs: Mapping[str, np.ndarray], signature_name: str = DEFAULT_SIGNATURE,
                request_format: str = "row") -> Dict[str, np.ndarray]:
        """Runs ``signature_name`` on ``inputs`` ({alias: batch}); returns {output alias: array}."""
        if request_format not in ("row", "columnar"):
            raise ValueError(f"request_format must be 'row' or 'columnar', got {request_format!r}")
        build = row_request if request_format == "row" else columnar_request
        body = self._call(self.model_url + ":predict", build(inputs, signature_name))
        if request_format == "columnar":
            return parse_columnar_response(body, lambda: self._output_names(signature_name))
        return parse_row_response(body, lambda: self._output_names(signature_name))

    def _output_names(self, signature_name: str) -> List[str]:
        return sorted(self.metadata()[signature_name]["outputs"])


def row_request(inputs: Mapping[str, np.ndarray], signature_name: str = DEFAULT_SIGNATURE) -> dict:
    """``{"signature_name", "instances"}``: a bare tensor per instance for one input, objects otherwise."""
    names = sorted(inputs)
    arrays = {name: np.asarray(inputs[name]) for name in names}
    if len(names) == 1:
        instances = arrays[names[0]].tolist()
    else:
        columns = {name: arrays[name].tolist() for name in names}
        instances = [{name: columns[name][i] for name in names} for i in range(len(arrays[names[0]]))]
    return {"signature_name": signature_name, "instances": instances}


def columnar_request(inputs: Mapping[str, np.ndarray], signature_name: str = DEFAULT_SIGNATURE) -> dict:
    """``{"signature_name", "inputs": {alias: tensor}}``."""
    return {"signature_name": signature_name,
            "inputs": {name: np.asarray(value).tolist() for name, value in sorted(inputs.items())}}


def parse_row_response(body: dict, output_names=None) -> Dict[str, np.ndarray]:
    """``{"predictions": [{alias: value}, ...]}`` or, for one output, ``{"predictions": [value, ...]}``."""
    if "predictions" not in body:
        raise ServingError("INTERNAL", f"response has no 'predictions': {str(body)[:200]}")
    predictions = body["predictions"]
    if predictions and all(isinstance(p, dict) for p in predictions):
        return {name: np.asarray([p[name] for p in predictions], np.float32) for name in sorted(predictions[0])}
    names = output_names() if callable(output_names) else output_names
    return {(names[0] if names else "output"): np.asarray(predictions, np.float32)}


def parse_columnar_response(body: dict, output_names=None) -> Dict[str, np.ndarray]:
    """``{"outputs": {alias: tensor}}`` or, for one output, ``{"outputs": tensor}``."""
    if "outputs" not in body:
        raise ServingError("INTERNAL", f"response has no 'outputs': {str(body)[:200]}")
    outputs = body["outputs"]
    if isinstance(outputs, dict):
        return {name: np.asarray(value, np.float32) for name, value in outputs.items()}
    names = output_names() if callable(output_names) else output_names
    return {(names[0] if names else "output"): np.asarray(outputs, np.float32)}


class GrpcClient:
    """``tensorflow.serving.PredictionService`` over gRPC (imports grpc and TensorFlow on creation)."""

    def __init__(self, target: str = DEFAULT_GRPC_TARGET, model_name: str = DEFAULT_MODEL_NAME,
                 version: Optional[int] = None, label: Optional[str] = None, timeout: float = 60.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.target, self.model_name, self.version, self.label = target, model_name, version, label
        self.timeout = timeout
        # Unlimited message sizes, as tensorflow_model_server allows (gRPC's default is 4 MB).
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_send_message_length", -1),
                                                              ("grpc.max_receive_message_length", -1)])
        self.stub = prediction_service_pb2_grpc.PredictionServiceStub(self.channel)
        self._signatures: Optional[Dict[str, dict]] = None

    def _fill_spec(self, spec, signature_name: str = "") -> None:
        spec.name = self.model_name
        if signature_name:
            spec.signature_name = signature_name
        if self.version is not None:
            spec.version.value = int(self.version)
        elif self.label:
            spec.version_label = self.label

    def _rpc(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code = error.code().name if error.code() else "UNKNOWN"
            details = error.details() or ""
            if code == "UNAVAILABLE":
                details = f"cannot reach {self.target}: {details}; is the model server running (gRPC port 8500)?"
            raise ServingError(code, details) from None

    def predict(self, inputs: Mapping[str, np.ndarray], signature_name: str = DEFAULT_SIGNATURE,
                output_filter: Sequence[str] = ()) -> Dict[str, np.ndarray]:
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest()
        self._fill_spec(request.model_spec, signature_name)
        for alias, value in inputs.items():
            request.inputs[alias].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        request.output_filter.extend(output_filter)
        response = self._rpc(self.stub.Predict, request)
        return {alias: tf.make_ndarray(proto) for alias, proto in response.outputs.items()}

    def metadata(self) -> Dict[str, dict]:
        """Signatures served: {name: {"inputs": {alias: (dtype, shape)}, "outputs": {...}}}."""
        if self._signatures is None:
            from google.protobuf import json_format
            from tensorflow_serving.apis import get_model_metadata_pb2

            request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
            self._fill_spec(request.model_spec)
            response = self._rpc(self.stub.GetModelMetadata, request)
            signature_map = get_model_metadata_pb2.SignatureDefMap()
            response.metadata["signature_def"].Unpack(signature_map)
            defs = json_format.MessageToDict(signature_map, preserving_proto_field_name=True)
            self._signatures = _summarise_signatures(defs.get("signature_def", {}))
        return self._signatures

    def close(self) -> None:
        self.channel.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def make_client(protocol: str, server: Optional[str] = None, model_name: str = DEFAULT_MODEL_NAME,
                version: Optional[int] = None, timeout: float = 60.0):
    """A :class:`RestClient` (``protocol="rest"``) or :class:`GrpcClient` (``"grpc"``)."""
    if protocol == "rest":
        return RestClient(server or DEFAULT_REST_URL, model_name, version, timeout=timeout)
    if protocol == "grpc":
        return GrpcClient(server or DEFAULT_GRPC_TARGET, model_name, version, timeout=timeout)
    raise ValueError(f"protocol must be 'rest' or 'grpc', got {protocol!r}")


# -- images in, representations out ------------------------------------------------------------

def signature_for(images: np.ndarray) -> str:
    """``encode_uint8`` for raw pixels, ``serving_default`` for float images in [0, 1]."""
    return UINT8_SIGNATURE if images.dtype == np.uint8 else DEFAULT_SIGNATURE


def encode(client, images: np.ndarray, batch_size: int = 64, signature_name: Optional[str] = None,
           request_format: str = "row") -> Dict[str, np.ndarray]:
    """Encodes ``images`` [N, H, W, C] in batches; returns ``{"mean": [N, d], "logvar": [N, d]}``.

    Float images must already be in [0, 1] (the ``serving_default`` contract); uint8 pixels go to
    ``encode_uint8``. Checking the range here catches the common 0..255-as-float mistake, which
    the server cannot detect and which would silently give garbage codes.
    """
    images = np.asarray(images)
    if images.ndim < 2 or len(images) == 0:
        raise ValueError(f"need a non-empty batch of images [N, H, W, C], got shape {images.shape}")
    if images.dtype != np.uint8:
        images = images.astype(np.float32)
        low, high = float(images.min()), float(images.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(f"float images must lie in [0, 1] (serving_default), got [{low:g}, {high:g}]; "
                             "divide by 255 or send uint8 pixels")
    signature_name = signature_name or signature_for(images)
    batches = []
    for start in range(0, len(images), batch_size):
        chunk = {"images": images[start:start + batch_size]}
        if isinstance(client, RestClient):
            batches.append(client.predict(chunk, signature_name, request_format))
        else:
            batches.append(client.predict(chunk, signature_name))
    return {key: np.concatenate([b[key] for b in batches]) for key in batches[0]}


def representation(outputs: Mapping[str, np.ndarray], kind: str = "mean",
                   random_state: Optional[np.random.RandomState] = None) -> np.ndarray:
    """``mean`` or ``sampled`` (mean + exp(logvar / 2) * N(0, 1)), disentanglement_lib's two postprocessings."""
    if kind == "mean":
        return np.asarray(outputs["mean"], np.float32)
    if kind == "sampled":
        random_state = random_state or np.random.RandomState(0)
        mean, logvar = np.asarray(outputs["mean"]), np.asarray(outputs["logvar"])
        return (mean + np.exp(logvar / 2.0) * random_state.standard_normal(mean.shape)).astype(np.float32)
    raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {kind!r}")


def _as_nhwc(array: np.ndarray, source: str) -> np.ndarray:
    if array.ndim == 2:  # one grayscale image
        return array[None, :, :, None]
    if array.ndim == 3:  # [N, H, W] grayscale batch, or one [H, W, C] image with C in 1, 3, 4
        return array[None] if array.shape[-1] in (1, 3, 4) and array.shape[0] > 4 else array[..., None]
    if array.ndim == 4:
        return array
    raise ValueError(f"{source}: expected images [N, H, W, C], [N, H, W], [H, W, C] or [H, W], got {array.shape}")


def expand_paths(patterns: Iterable[str]) -> List[str]:
    """Files named or matched by glob patterns, in order; directories contribute their images."""
    paths = []
    for pattern in patterns:
        if os.path.isdir(pattern):
            paths.extend(sorted(p for p in glob.glob(os.path.join(pattern, "*"))
                                if p.lower().endswith(IMAGE_SUFFIXES + (".npy",))))
            continue
        matched = sorted(glob.glob(pattern))
        if not matched:
            raise FileNotFoundError(f"no file matches {pattern}")
        paths.extend(matched)
    return paths


def load_images(paths: Sequence[str], channels: Optional[int] = None) -> Tuple[np.ndarray, List[str]]:
    """Images of .npy files and image files as one [N, H, W, C] batch, and a source label per image.

    Image files are read as uint8 pixels (converted to ``channels``, 1 = grayscale, if given).
    A .npy may hold uint8 pixels or float32 values in [0, 1]. Mixed inputs become float32 in [0, 1].
    """
    from PIL import Image

    arrays, sources = [], []
    for path in paths:
        if path.lower().endswith(".npy"):
            array = _as_nhwc(np.load(path), path)
            sources.extend(f"{os.path.basename(path)}[{i}]" for i in range(len(array)))
        elif path.lower().endswith(IMAGE_SUFFIXES):
            with Image.open(path) as image:
                if channels == 1:
                    image = image.convert("L")
                elif channels == 3 or image.mode not in ("L", "RGB"):
                    image = image.convert("RGB")
                array = _as_nhwc(np.asarray(image, np.uint8), path)
            sources.append(os.path.basename(path))
        else:
            raise ValueError(f"{path}: unsupported file type; give .npy or image files ({', '.join(IMAGE_SUFFIXES)})")
        arrays.append(array)
    if not arrays:
        raise ValueError("no images given")
    shapes = {a.shape[1:] for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"images have different shapes {sorted(shapes)}; resize them to the model's input size")
    if all(a.dtype == np.uint8 for a in arrays):
        return np.concatenate(arrays), sources
    floats = [a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32) for a in arrays]
    return np.concatenate(floats), sources


def dataset_images(name: str, num: int, seed: int = 0, data_dir: Optional[str] = None):
    """``num`` observations of a ground-truth dataset: (float32 images, int factors, factor names, sources)."""
    from tfdisent.data import load_dataset

    dataset = load_dataset(name, **({"data_dir": data_dir} if data_dir else {}))
    factors, images = dataset.sample(num, np.random.RandomState(seed))
    return images, factors, list(dataset.factor_names), [f"{name}[{i}]" for i in range(num)]


def write_representations(path: str, outputs: Mapping[str, np.ndarray], kind: str = "mean",
                          sources: Optional[Sequence[str]] = None, factors: Optional[np.ndarray] = None,
                          factor_names: Optional[Sequence[str]] = None, seed: int = 0) -> str:
    """Writes the representation to ``.npy`` ([N, d] float32), ``.csv`` (source, z0..z{d-1}, factors)
    or ``.npz`` (mean, logvar, representation, factors)."""
    codes = representation(outputs, kind, np.random.RandomState(seed))
    suffix = os.path.splitext(path)[1].lower()
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    if suffix == ".npy":
        np.save(path, codes)
    elif suffix == ".npz":
        extra = {"factors": np.asarray(factors)} if factors is not None else {}
        np.savez(path, representation=codes, **{k: np.asarray(v) for k, v in outputs.items()}, **extra)
    elif suffix == ".csv":
        factor_names = list(factor_names or ([f"factor_{i}" for i in range(factors.shape[1])]
                                             if factors is not None else []))
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["source"] + [f"z{i}" for i in range(codes.shape[1])] + factor_names)
            for i, row in enumerate(codes):
                extra = [int(v) for v in factors[i]] if factors is not None else []
                writer.writerow([sources[i] if sources else i] + [f"{v:.7g}" for v in row] + extra)
    else:
        raise ValueError(f"output {path} must end in .npy, .csv or .npz")
    return path
