r"""An in-process stand-in for ``tensorflow_model_server``: gRPC PredictionService + REST API.

``tensorflow_model_server`` is a C++ binary (Docker image ``tensorflow/serving``) that cannot be
installed everywhere. This module serves the same SavedModel export over the same protocols, so
clients can be developed and tested locally:

* gRPC ``tensorflow.serving.PredictionService`` (``Predict``, ``GetModelMetadata``) and
  ``ModelService.GetModelStatus``, built from the ``tensorflow-serving-api`` protos;
* REST ``POST /v1/models/<m>[/versions/<v>|/labels/<l>]:predict`` (row ``instances`` and
  columnar ``inputs`` JSON), ``GET /v1/models/<m>[/versions/<v>]`` and ``GET .../metadata``
  (TF Serving's RESTful API, https://www.tensorflow.org/tfx/serving/api_rest).

Like the real server it loads the highest version under a base path (or the versions a
``models.config`` asks for), replays ``assets.extra/tf_serving_warmup_requests`` before a
version becomes AVAILABLE, and reports NOT_FOUND / INVALID_ARGUMENT with TF Serving's message
texts, followed by a hint the user can act on. It differs where the real server would fail deep
inside the graph: shapes, dtypes, empty and oversized batches are checked up front against the
SignatureDef. Models are loaded with ``tf.saved_model.load`` (TF2); the tests check the TF1
session loading path the C++ server uses separately.

Run it from a shell::

    python -m tfdisent.serving_double --model_name=tfdisent --model_base_path=runs/x/export \
        --port=8500 --rest_api_port=8501
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from tfdisent.export.layout import latest_version
from tfdisent.export.status import ServingError

DEFAULT_SIGNATURE = "serving_default"
# TF Serving has no batch limit unless batching is configured; a local double should still
# refuse requests that would exhaust memory, with a message saying how to split them.
DEFAULT_MAX_BATCH_SIZE = 1024
GRPC_MAX_MESSAGE_BYTES = 2 ** 31 - 1  # what tensorflow_model_server allows (kint32max)


def _shape_text(shape: Sequence[int]) -> str:
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


class ServableVersion:
    """One loaded version of a model: its signatures, checked inputs and outputs."""

    def __init__(self, name: str, version: int, path: str, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
                 run_warmup: bool = True):
        import tensorflow as tf
        from tensorflow.python.framework import dtypes

        from tfdisent.export import warmup

        self.name, self.version, self.path = name, int(version), path
        self.max_batch_size = int(max_batch_size)
        self.loaded = tf.saved_model.load(path)
        self.signature_defs = warmup.read_signature_defs(path)
        self.functions = {key: self.loaded.signatures[key] for key in self.signature_defs}
        self.input_specs: Dict[str, Dict[str, Tuple[np.dtype, List[int]]]] = {}
        for key, signature in self.signature_defs.items():
            self.input_specs[key] = {
                alias: (np.dtype(dtypes.as_dtype(info.dtype).as_numpy_dtype),
                        [d.size for d in info.tensor_shape.dim])
                for alias, info in signature.inputs.items()}
        self.warmup_records = 0
        warmup_file = os.path.join(path, warmup.ASSETS_EXTRA, warmup.WARMUP_FILE)
        if run_warmup and os.path.exists(warmup_file):
            # As tensorflow_model_server does: a version whose warmup fails is not served.
            self.warmup_records = warmup.replay_warmup(path, self.loaded)

    # -- request checking ---------------------------------------------------------------------
    def resolve_signature(self, signature_name: str) -> str:
        name = signature_name or DEFAULT_SIGNATURE
        if name not in self.signature_defs:
            raise ServingError("INVALID_ARGUMENT", f'Serving signature name: "{name}" not found in signature def. '
                               f"Available signatures: {', '.join(sorted(self.signature_defs))}")
        return name

    def check_inputs(self, signature_name: str, inputs: Dict[str, np.ndarray]) -> None:
        """Raises INVALID_ARGUMENT for missing/unknown names, dtype, shape, empty or oversized batches."""
        specs = self.input_specs[signature_name]
        expected = sorted(specs)
        for alias in sorted(inputs):
            if alias not in specs:
                raise ServingError("INVALID_ARGUMENT", f"input tensor alias not found in signature: {alias}. "
                                   f"Inputs expected to be in the set {{{','.join(expected)}}}.")
        if len(inputs) != len(specs):
            missing = [a for a in expected if a not in inputs]
            raise ServingError("INVALID_ARGUMENT", f"input size does not match signature: {len(inputs)}!="
                               f"{len(specs)} len([{','.join(sorted(inputs))}]) != len([{','.join(expected)}]). "
                               f"Missing input(s): {', '.join(missing)}")
        batch_sizes = set()
        for alias, value in inputs.items():
            dtype, shape = specs[alias]
            if value.dtype != dtype:
                alternatives = [key for key, other in self.input_specs.items()
                                if key != signature_name and alias in other and other[alias][0] == value.dtype
                                and other[alias][1] == shape]
                hint = (f"; signature(s) {', '.join(alternatives)} take {value.dtype.name} {alias}"
                        if alternatives else "")
                raise ServingError("INVALID_ARGUMENT", f"input '{alias}' of signature '{signature_name}' expects "
                                   f"dtype {dtype.name} but got {value.dtype.name}: convert it{hint}")
            if value.ndim >= 1 and value.shape[0] == 0:
                raise ServingError("INVALID_ARGUMENT", f"input '{alias}' is an empty batch (shape "
                                   f"{_shape_text(value.shape)}); send at least one instance")
            if value.ndim != len(shape) or any(0 <= want != got for want, got in zip(shape[1:], value.shape[1:])):
                raise ServingError("INVALID_ARGUMENT", f"input '{alias}' of signature '{signature_name}' expects shape "
                                   f"{_shape_text(shape)} (-1: any size) but got {_shape_text(value.shape)}")
            if value.shape[0] > self.max_batch_size:
                raise ServingError("INVALID_ARGUMENT", f"batch size {value.shape[0]} of input '{alias}' exceeds the "
                                   f"maximum batch size {self.max_batch_size}; split the request into batches of "
                                   f"at most {self.max_batch_size}")
            batch_sizes.add(value.shape[0])
        if len(batch_sizes) > 1:
            raise ServingError("INVALID_ARGUMENT", f"inputs have different batch sizes {sorted(batch_sizes)}")

    def output_names(self, signature_name: str) -> List[str]:
        return sorted(self.signature_defs[signature_name].outputs)

    def predict(self, signature_name: str, inputs: Dict[str, np.ndarray],
                output_filter: Iterable[str] = ()) -> Tuple[str, Dict[str, np.ndarray]]:
        """Runs a signature; returns ``(resolved signature name, {output alias: array})``."""
        import tensorflow as tf

        name = self.resolve_signature(signature_name)
        outputs_wanted = list(output_filter) or self.output_names(name)
        available = self.output_names(name)
        for alias in outputs_wanted:
            if alias not in available:
                raise ServingError("INVALID_ARGUMENT", f"output tensor alias not found in signature: {alias} "
                                   f"Outputs expected to be in the set {{{','.join(available)}}}.")
        if len(set(outputs_wanted)) != len(outputs_wanted):
            raise ServingError("INVALID_ARGUMENT", "duplicate output tensor alias in output_filter")
        self.check_inputs(name, inputs)
        try:
            results = self.functions[name](**{k: tf.constant(v) for k, v in inputs.items()})
        except tf.errors.InvalidArgumentError as error:
            raise ServingError("INVALID_ARGUMENT", error.message) from error
        except tf.errors.OpError as error:
            raise ServingError("INTERNAL", error.message) from error
        return name, {alias: results[alias].numpy() for alias in outputs_wanted}


class ModelServer:
    """The servables of one server process: model name -> {version: ServableVersion}, plus labels."""

    def __init__(self, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE, run_warmup: bool = True):
        self.max_batch_size = int(max_batch_size)
        self.run_warmup = run_warmup
        self.models: Dict[str, Dict[int, ServableVersion]] = {}
        self.labels: Dict[str, Dict[str, int]] = {}
        self._lock = threading.Lock()

    def add_model(self, name: str, base_path: str, versions: Optional[Sequence[int]] = None,
                  num_latest: int = 1, labels: Optional[Dict[str, int]] = None) -> List[int]:
        """Loads ``versions`` of ``base_path`` (default: the ``num_latest`` highest, TF Serving's policy)."""
        if not os.path.isdir(base_path):
            raise FileNotFoundError(f"model base path {base_path} does not exist")
        available = sorted(int(v) for v in os.listdir(base_path)
                           if v.isdigit() and os.path.exists(os.path.join(base_path, v, "saved_model.pb")))
        if not available:
            raise FileNotFoundError(f"{base_path} holds no version directory (<int>/saved_model.pb); export a "
                                    f"model there first (latest: {latest_version(base_path)})")
        if versions is None:
            chosen = available[-max(int(num_latest), 1):]
        else:
            chosen = [int(v) for v in versions]
            missing = [v for v in chosen if v not in available]
            if missing:
                raise FileNotFoundError(f"versions {missing} not found under {base_path} (available: {available})")
        loaded = {v: ServableVersion(name, v, os.path.join(base_path, str(v)), self.max_batch_size,
                                     self.run_warmup) for v in chosen}
        with self._lock:
            self.models.setdefault(name, {}).update(loaded)
            self.labels.setdefault(name, {}).update({k: int(v) for k, v in (labels or {}).items()})
        return chosen

    def add_models_from_config(self, path: str) -> Dict[str, List[int]]:
        """Loads every model of a ``models.config`` (text ``ModelServerConfig``, TF Serving's --model_config_file)."""
        from google.protobuf import text_format
        from tensorflow_serving.config import model_server_config_pb2

        config = model_server_config_pb2.ModelServerConfig()
        with open(path) as f:
            text_format.Parse(f.read(), config)
        loaded = {}
        for model in config.model_config_list.config:
            policy = model.model_version_policy.WhichOneof("policy_choice")
            versions, num_latest = None, 1
            if policy == "specific":
                versions = list(model.model_version_policy.specific.versions)
            elif policy == "all":
                versions = None
                num_latest = 1 << 30
            elif policy == "latest":
                num_latest = model.model_version_policy.latest.num_versions or 1
            loaded[model.name] = self.add_model(model.name, model.base_path, versions, num_latest,
                                                dict(model.version_labels))
        return loaded

    def resolve(self, name: str, version: Optional[int] = None, label: Optional[str] = None) -> ServableVersion:
        """The servable a request addresses, or NOT_FOUND in TF Serving's words."""
        versions = self.models.get(name, {})
        if label:
            if label not in self.labels.get(name, {}):
                raise ServingError("NOT_FOUND", f"Unrecognized servable version label: {label}")
            version = self.labels[name][label]
        if version is None:
            if not versions:
                raise ServingError("NOT_FOUND", f"Servable not found for request: Latest({name}). "
                                   f"Models served: {', '.join(sorted(self.models)) or 'none'}")
            return versions[max(versions)]
        if int(version) not in versions:
            served = f"versions served: {sorted(versions)}" if versions else \
                f"models served: {', '.join(sorted(self.models)) or 'none'}"
            raise ServingError("NOT_FOUND", f"Servable not found for request: Specific({name}, {version}). "
                               f"{served[0].upper()}{served[1:]}")
        return versions[int(version)]

    def status(self, name: str, version: Optional[int] = None) -> List[dict]:
        """``model_version_status`` entries (REST GetModelStatus JSON)."""
        if version is not None:
            self.resolve(name, version)
            versions = [int(version)]
        else:
            if name not in self.models:
                raise ServingError("NOT_FOUND", f"Could not find any versions of model {name}")
            versions = sorted(self.models[name], reverse=True)
        return [{"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
                for v in versions]

    def signature_def_map(self, servable: ServableVersion):
        from tensorflow_serving.apis import get_model_metadata_pb2

        signature_map = get_model_metadata_pb2.SignatureDefMap()
        for key, signature in servable.signature_defs.items():
            signature_map.signature_def[key].CopyFrom(signature)
        return signature_map


# -- gRPC -------------------------------------------------------------------------------------

def _version_choice(model_spec) -> Tuple[Optional[int], Optional[str]]:
    choice = model_spec.WhichOneof("version_choice")
    if choice == "version":
        return int(model_spec.version.value), None
    if choice == "version_label":
        return None, model_spec.version_label
    return None, None


def _prediction_servicer(server: ModelServer):
    from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2,
                                         prediction_service_pb2_grpc)

    class PredictionServicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        """Predict and GetModelMetadata; Classify/Regress/MultiInference stay UNIMPLEMENTED."""

        def Predict(self, request, context):
            try:
                response = self._predict(request)
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            except Exception as error:  # noqa: BLE001 - a request must never take the server down
                context.abort(ServingError("INTERNAL", "").grpc_code, f"{type(error).__name__}: {error}")
            return response

        def _predict(self, request):
            import tensorflow as tf

            servable = server.resolve(request.model_spec.name, *_version_choice(request.model_spec))
            inputs = {}
            for alias, proto in request.inputs.items():
                try:
                    inputs[alias] = tf.make_ndarray(proto)
                except Exception as error:  # noqa: BLE001 - malformed TensorProto from the wire
                    raise ServingError("INVALID_ARGUMENT", f"tensor parsing error: {alias} ({error})") from error
            name, outputs = servable.predict(request.model_spec.signature_name, inputs, request.output_filter)
            response = predict_pb2.PredictResponse()
            response.model_spec.name = servable.name
            response.model_spec.version.value = servable.version
            response.model_spec.signature_name = name
            for alias, value in outputs.items():
                response.outputs[alias].CopyFrom(tf.make_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):
            try:
                fields = list(request.metadata_field)
                if not fields:
                    raise ServingError("INVALID_ARGUMENT",
                                       "GetModelMetadataRequest must specify at least one metadata_field")
                for field in fields:
                    if field != "signature_def":
                        raise ServingError("INVALID_ARGUMENT", f"Metadata field {field} is not supported; "
                                           "ask for 'signature_def'")
                servable = server.resolve(request.model_spec.name, *_version_choice(request.model_spec))
                response = get_model_metadata_pb2.GetModelMetadataResponse()
                response.model_spec.name = servable.name
                response.model_spec.version.value = servable.version
                response.metadata["signature_def"].Pack(server.signature_def_map(servable))
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            return response

    return PredictionServicer()


def _model_servicer(server: ModelServer):
    from tensorflow_serving.apis import get_model_status_pb2, model_service_pb2_grpc

    class ModelServicer(model_service_pb2_grpc.ModelServiceServicer):
        def GetModelStatus(self, request, context):
            try:
                version, _ = _version_choice(request.model_spec)
                entries = server.status(request.model_spec.name, version)
            except ServingError as error:
                context.abort(error.grpc_code, error.message)
            response = get_model_status_pb2.GetModelStatusResponse()
            for entry in entries:
                status = response.model_version_status.add()
                status.version = int(entry["version"])
                status.state = get_model_status_pb2.ModelVersionStatus.AVAILABLE
            return response

    return ModelServicer()


def start_grpc_server(server: ModelServer, host: str = "127.0.0.1", port: int = 0, max_workers: int = 4):
    """Serves ``server`` over gRPC; returns ``(grpc.Server, bound port)``. Port 0 picks a free one."""
    import grpc
    from tensorflow_serving.apis import model_service_pb2_grpc, prediction_service_pb2_grpc

    grpc_server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers), options=[
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES)])
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(_prediction_servicer(server), grpc_server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(_model_servicer(server), grpc_server)
    bound = grpc_server.add_insecure_port(f"{host}:{port}")
    if bound == 0:
        raise OSError(f"cannot bind gRPC port {host}:{port}")
    grpc_server.start()
    return grpc_server, bound


# -- REST -------------------------------------------------------------------------------------

_PATH = re.compile(r"^/v1/models/(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+)|/labels/(?P<label>[^/:]+))?"
                   r"(?P<suffix>:predict|/metadata)?$")


def _json_to_array(value, dtype: np.dtype, where: str) -> np.ndarray:
    """A JSON (nested list) value as an array of the signature dtype, as TF Serving converts them."""
    if isinstance(value, dict):
        raise ServingError("INVALID_ARGUMENT", f"{where}: got a JSON object where a tensor was expected"
                           + (" ({'b64': ...} is only accepted for DT_STRING inputs)" if "b64" in value else ""))
    try:
        array = np.asarray(value)
    except ValueError as error:
        raise ServingError("INVALID_ARGUMENT", f"{where}: ragged nested lists; every instance must have the same "
                           f"shape ({error})") from error
    if array.dtype == object or array.dtype.kind in "USb" and array.size:
        raise ServingError("INVALID_ARGUMENT", f"{where}: expected numbers of type {dtype.name} with one shape "
                           f"per instance, got {array.dtype.kind!r} values")
    if np.issubdtype(dtype, np.integer) and array.size:
        if array.dtype.kind == "f" and not np.all(np.isfinite(array) & (array == np.round(array))):
            raise ServingError("INVALID_ARGUMENT", f"{where}: expects {dtype.name} but the JSON holds non-integer "
                               f"numbers; send integers (raw pixels 0..255) or use a float32 signature")
        info = np.iinfo(dtype)
        if array.min() < info.min or array.max() > info.max:
            raise ServingError("INVALID_ARGUMENT", f"{where}: values outside the {dtype.name} range "
                               f"[{info.min}, {info.max}]")
    return array.astype(dtype)


def parse_rest_request(body: dict, input_specs: Dict[str, Tuple[np.dtype, List[int]]]
                       ) -> Tuple[Dict[str, np.ndarray], str]:
    """Row (``instances``) or columnar (``inputs``) JSON -> ``({alias: array}, format)``.

    Follows the request formats of TF Serving's RESTful API: with one signature input, an
    instance (row) or ``inputs`` (columnar) may be the bare tensor; otherwise objects keyed by
    input name. ``instances`` and ``inputs`` cannot be combined.
    """
    if not isinstance(body, dict):
        raise ServingError("INVALID_ARGUMENT", "request body must be a JSON object with 'instances' or 'inputs'")
    if "instances" in body and "inputs" in body:
        raise ServingError("INVALID_ARGUMENT", "Not formatted correctly expecting only one of 'inputs' or "
                           "'instances' keys exists")
    names = sorted(input_specs)
    if "instances" in body:
        instances = body["instances"]
        if not isinstance(instances, list):
            raise ServingError("INVALID_ARGUMENT", "'instances' must be a JSON list with one entry per example")
        if not instances:
            raise ServingError("INVALID_ARGUMENT", "'instances' is an empty list; send at least one instance")
        named = all(isinstance(x, dict) and "b64" not in x for x in instances)
        if named:
            keys = set(instances[0])
            for index, instance in enumerate(instances):
                if set(instance) != keys:
                    raise ServingError("INVALID_ARGUMENT", f"Failed to process element: {index} of 'instances' "
                                       f"list. Error: its keys {sorted(instance)} differ from those of element 0 "
                                       f"{sorted(keys)}")
            columns = {key: [instance[key] for instance in instances] for key in sorted(keys)}
        elif len(names) == 1:
            columns = {names[0]: instances}
        else:
            raise ServingError("INVALID_ARGUMENT", f"the signature has inputs {names}: each instance must be an "
                               "object keyed by input name")
        request_format = "row"
    elif "inputs" in body:
        inputs = body["inputs"]
        if isinstance(inputs, dict) and "b64" not in inputs:
            columns = dict(inputs)
        elif len(names) == 1:
            columns = {names[0]: inputs}
        else:
            raise ServingError("INVALID_ARGUMENT", f"the signature has inputs {names}: 'inputs' must be an object "
                               "keyed by input name")
        request_format = "columnar"
    else:
        raise ServingError("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key")
    arrays = {}
    for alias, value in columns.items():
        if alias not in input_specs:
            raise ServingError("INVALID_ARGUMENT", f"input tensor alias not found in signature: {alias}. "
                               f"Inputs expected to be in the set {{{','.join(names)}}}.")
        arrays[alias] = _json_to_array(value, input_specs[alias][0], f"input '{alias}'")
    return arrays, request_format


def _jsonable(array: np.ndarray):
    return array.tolist()


def format_rest_response(outputs: Dict[str, np.ndarray], request_format: str) -> dict:
    """``{"predictions": [...]}`` (row) or ``{"outputs": ...}`` (columnar), as TF Serving answers."""
    names = sorted(outputs)
    if request_format == "columnar":
        if len(names) == 1:
            return {"outputs": _jsonable(outputs[names[0]])}
        return {"outputs": {name: _jsonable(outputs[name]) for name in names}}
    if len(names) == 1:
        return {"predictions": _jsonable(outputs[names[0]])}
    batch = len(outputs[names[0]])
    columns = {name: _jsonable(outputs[name]) for name in names}
    return {"predictions": [{name: columns[name][i] for name in names} for i in range(batch)]}


def _rest_handler(server: ModelServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "tfdisent-local-serving"

        def log_message(self, fmt, *args):  # keep test and console output clean
            pass

        def _send(self, status: int, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _route(self):
            match = _PATH.match(self.path.split("?", 1)[0])
            if not match:
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: {self.command} {self.path}; expected "
                                   "/v1/models/<name>[/versions/<v>|/labels/<l>][:predict|/metadata]")
            version = match.group("version")
            if version is not None and not version.isdigit():
                raise ServingError("INVALID_ARGUMENT", f"Malformed request: version '{version}' is not an integer")
            return match.group("name"), (int(version) if version else None), match.group("label"), \
                match.group("suffix")

        def _guard(self, action):
            try:
                self._send(200, action())
            except ServingError as error:
                self._send(error.http_status, {"error": error.message})
            except Exception as error:  # noqa: BLE001 - a request must never take the server down
                self._send(500, {"error": f"{type(error).__name__}: {error}"})

        def do_GET(self):
            def action():
                name, version, label, suffix = self._route()
                if suffix == ":predict":
                    raise ServingError("INVALID_ARGUMENT", "Malformed request: use POST for :predict")
                if suffix == "/metadata":
                    from google.protobuf import json_format

                    servable = server.resolve(name, version, label)
                    return {"model_spec": {"name": name, "signature_name": "", "version": str(servable.version)},
                            "metadata": {"signature_def": json_format.MessageToDict(
                                server.signature_def_map(servable), preserving_proto_field_name=True)}}
                if label:
                    version = server.resolve(name, None, label).version
                return {"model_version_status": server.status(name, version)}
            self._guard(action)

        def do_POST(self):
            def action():
                name, version, label, suffix = self._route()
                if suffix != ":predict":
                    raise ServingError("INVALID_ARGUMENT", f"Malformed request: POST {self.path}; only :predict "
                                       "accepts POST (classify/regress are not served)")
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"null")
                except ValueError as error:
                    raise ServingError("INVALID_ARGUMENT", f"JSON Parse error: {error}") from error
                servable = server.resolve(name, version, label)
                signature = servable.resolve_signature(body.get("signature_name", "") if isinstance(body, dict)
                                                       else "")
                arrays, request_format = parse_rest_request(body, servable.input_specs[signature])
                _, outputs = servable.predict(signature, arrays)
                return format_rest_response(outputs, request_format)
            self._guard(action)

    return Handler


def start_rest_server(server: ModelServer, host: str = "127.0.0.1", port: int = 0):
    """Serves the REST API in a daemon thread; returns ``(ThreadingHTTPServer, bound port)``."""
    httpd = ThreadingHTTPServer((host, port), _rest_handler(server))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, name="tfdisent-rest", daemon=True).start()
    return httpd, httpd.server_address[1]


class LocalServing:
    """Both servers around one :class:`ModelServer`; a context manager that stops them on exit.

    >>> with LocalServing.for_model("tfdisent", "runs/x/export") as serving:
    ...     GrpcClient(serving.grpc_target).predict(images)
    """

    def __init__(self, server: ModelServer, host: str = "127.0.0.1", grpc_port: Optional[int] = 0,
                 rest_port: Optional[int] = 0):
        self.server, self.host = server, host
        self.grpc_server = self.httpd = None
        self.grpc_port = self.rest_port = None
        if grpc_port is not None:
            self.grpc_server, self.grpc_port = start_grpc_server(server, host, grpc_port)
        if rest_port is not None:
            self.httpd, self.rest_port = start_rest_server(server, host, rest_port)

    @classmethod
    def for_model(cls, name: str, base_path: str, max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
                  **kwargs) -> "LocalServing":
        server = ModelServer(max_batch_size=max_batch_size)
        server.add_model(name, base_path)
        return cls(server, **kwargs)

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    def stop(self) -> None:
        if self.grpc_server is not None:
            self.grpc_server.stop(grace=None)
            self.grpc_server = None
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Command line mirroring ``tensorflow_model_server``'s main flags."""
    parser = argparse.ArgumentParser(prog="python -m tfdisent.serving_double", description=__doc__.split("\n")[0])
    parser.add_argument("--model_name", default="tfdisent", help="name clients address (default tfdisent)")
    parser.add_argument("--model_base_path", help="directory of integer versions, e.g. <run>/export")
    parser.add_argument("--model_config_file", help="models.config (ModelServerConfig text proto); replaces "
                        "--model_name/--model_base_path")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (0.0.0.0 for all)")
    parser.add_argument("--port", type=int, default=8500, help="gRPC port (0: none)")
    parser.add_argument("--rest_api_port", type=int, default=8501, help="REST port (0: none)")
    parser.add_argument("--max_batch_size", type=int, default=DEFAULT_MAX_BATCH_SIZE,
                        help="largest batch accepted per request")
    args = parser.parse_args(argv)
    if not args.model_config_file and not args.model_base_path:
        parser.error("give --model_base_path or --model_config_file")
    server = ModelServer(max_batch_size=args.max_batch_size)
    try:
        if args.model_config_file:
            loaded = server.add_models_from_config(args.model_config_file)
        else:
            loaded = {args.model_name: server.add_model(args.model_name, args.model_base_path)}
    except (OSError, ValueError) as error:
        parser.exit(2, f"tfdisent-serve-local: error: {error}\n")
    serving = LocalServing(server, args.host, args.port or None, args.rest_api_port or None)
    for name, versions in loaded.items():
        print(f"serving {name} versions {versions}")
    if serving.grpc_port:
        print(f"gRPC PredictionService at {serving.host}:{serving.grpc_port}")
    if serving.rest_port:
        print(f"REST API at {serving.rest_url}/v1/models/<name>")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        serving.stop()


if __name__ == "__main__":
    main()
