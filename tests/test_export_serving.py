"""The SavedModel export as TF Serving loads it, its warmup file, and the gRPC/REST clients.

``tensorflow_model_server`` cannot be installed here, so: the TF1 session loader (what the C++
server and ``saved_model_cli run`` use) runs every signature and every warmup record; a fresh
process loads the export with ``tf.saved_model.load``; and the clients talk to the in-process
PredictionService/REST double (:mod:`tfdisent.serving_double`) end to end.
"""

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import tensorflow as tf

from tfdisent.export import client as serving_client
from tfdisent.export import export_saved_model, warmup
from tfdisent.serving_double import LocalServing, ModelServer, ServableVersion
from tfdisent.export.status import ServingError
from tfdisent.models import build_architecture

# One worker runs this module (pytest-xdist --dist loadgroup, setup.cfg): its module-scoped fixtures,
# which run binaries or train, then run once per session instead of once per worker.
pytestmark = [pytest.mark.xdist_group("export_serving"), pytest.mark.heavy]

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = (64, 64, 1)
LATENT_DIM = 10
SIGNATURES = ("decode", "encode_uint8", "reconstruct", "serving_default")
MAX_BATCH = 256


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    """A dlib_conv encoder/decoder (random weights) exported as version 1; (base, version_dir)."""
    base = str(tmp_path_factory.mktemp("serving") / "export")
    encoder, decoder = build_architecture("dlib_conv", SHAPE, LATENT_DIM)
    version_dir = export_saved_model(encoder, decoder, base, SHAPE, LATENT_DIM, version=1,
                                     metadata={"method": "beta_vae", "dataset": "dsprites"})
    return base, version_dir


@pytest.fixture(scope="module")
def loaded(export):
    return tf.saved_model.load(export[1])


@pytest.fixture(scope="module")
def serving(export):
    with LocalServing.for_model("tfdisent", export[0], max_batch_size=MAX_BATCH) as running:
        yield running


@pytest.fixture(scope="module")
def images():
    rs = np.random.RandomState(0)
    pixels = rs.randint(0, 256, size=(16,) + SHAPE).astype(np.uint8)
    return pixels, pixels.astype(np.float32) / 255.0


def _run(loaded, signature, **inputs):
    outputs = loaded.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
    return {k: v.numpy() for k, v in outputs.items()}


# -- the export --------------------------------------------------------------------------------

def test_export_layout_metadata_and_signatures(export):
    _, version_dir = export
    for name in ("saved_model.pb", "variables/variables.index", "assets.extra/tfdisent_export.json",
                 "assets.extra/tf_serving_warmup_requests"):
        assert os.path.exists(os.path.join(version_dir, name)), name
    with open(os.path.join(version_dir, "assets.extra", "tfdisent_export.json")) as f:
        info = json.load(f)
    assert info["observation_shape"] == list(SHAPE) and info["latent_dim"] == LATENT_DIM
    defs = warmup.read_signature_defs(version_dir)
    assert sorted(defs) == list(SIGNATURES)
    assert sorted(defs["serving_default"].outputs) == ["logvar", "mean"]
    assert defs["serving_default"].inputs["images"].dtype == tf.float32.as_datatype_enum
    assert defs["encode_uint8"].inputs["images"].dtype == tf.uint8.as_datatype_enum
    assert sorted(defs["decode"].outputs) == ["logits", "probs"]
    assert [d.size for d in defs["decode"].inputs["z"].tensor_shape.dim] == [-1, LATENT_DIM]


def test_export_without_warmup_and_version_numbering(tmp_path):
    encoder, decoder = build_architecture("mlp", (4,), 2)
    first = export_saved_model(encoder, decoder, str(tmp_path), (4,), 2, warmup=False)
    second = export_saved_model(encoder, decoder, str(tmp_path), (4,), 2)
    assert os.path.basename(first) == "1" and os.path.basename(second) == "2"
    assert not os.path.exists(os.path.join(first, "assets.extra", warmup.WARMUP_FILE))
    assert warmup.replay_warmup(second) == len(warmup.DEFAULT_BATCH_SIZES) * 4  # 4 signatures
    assert sorted(os.listdir(tmp_path)) == ["1", "2"]  # no temporary directories left for TF Serving to trip on


def test_tf1_session_loader_runs_every_signature_and_warmup_record(export, loaded):
    """tensorflow_model_server and saved_model_cli load through a TF1 Session (reference section 3)."""
    _, version_dir = export
    defs = warmup.read_signature_defs(version_dir)
    logs = warmup.read_warmup_file(version_dir)
    rs = np.random.RandomState(1)
    cases = {name: {alias: warmup.example_input(info, 3, rs) for alias, info in defs[name].inputs.items()}
             for name in SIGNATURES}
    tf2 = {name: _run(loaded, name, **inputs) for name, inputs in cases.items()}  # eager, before the graph
    replays = [(log.predict_log.request.model_spec.signature_name,
                {alias: tf.make_ndarray(proto) for alias, proto in log.predict_log.request.inputs.items()})
               for log in logs]
    with tf.Graph().as_default(), tf.compat.v1.Session() as session:
        meta_graph = tf.compat.v1.saved_model.loader.load(session, ["serve"], version_dir)
        assert sorted(k for k in meta_graph.signature_def if not k.startswith("__")) == list(SIGNATURES)

        def run(signature, inputs):
            sig = meta_graph.signature_def[signature]
            fetches = {alias: info.name for alias, info in sig.outputs.items()}
            return session.run(fetches, {sig.inputs[a].name: v for a, v in inputs.items()})

        for name, inputs in cases.items():
            tf1 = run(name, inputs)
            assert sorted(tf1) == sorted(tf2[name])
            for key in tf1:
                np.testing.assert_allclose(tf1[key], tf2[name][key], rtol=1e-5, atol=1e-5, err_msg=f"{name}/{key}")
        for name, inputs in replays:  # the server replays these through this very session before serving
            outputs = run(name, inputs)
            assert all(np.all(np.isfinite(v)) for v in outputs.values())


def test_every_warmup_record_runs_through_saved_model(export, loaded):
    _, version_dir = export
    logs = warmup.read_warmup_file(version_dir)
    assert 0 < len(logs) <= warmup.MAX_WARMUP_RECORDS
    requests = [log.predict_log.request for log in logs]
    assert sorted({r.model_spec.signature_name for r in requests}) == list(SIGNATURES)
    assert {tuple(tf.make_ndarray(r.inputs[next(iter(r.inputs))]).shape)[0] for r in requests} == \
        set(warmup.DEFAULT_BATCH_SIZES)
    for request in requests:
        inputs = {alias: tf.make_ndarray(proto) for alias, proto in request.inputs.items()}
        outputs = _run(loaded, request.model_spec.signature_name, **inputs)
        assert all(np.all(np.isfinite(v)) for v in outputs.values())
    assert warmup.replay_warmup(version_dir, loaded) == len(logs)


def test_broken_warmup_file_is_rejected_like_tf_serving(export, tmp_path):
    """A record that cannot run makes TF Serving refuse the version; the double must refuse it too."""
    from tensorflow_serving.apis import predict_pb2

    version_dir = str(tmp_path / "7")
    shutil.copytree(export[1], version_dir)
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = "encode_uint8"
    request.inputs["images"].CopyFrom(tf.make_tensor_proto(np.zeros((1,) + SHAPE, np.float32)))  # wrong dtype
    warmup.write_warmup_file(version_dir, requests=[request])
    with pytest.raises(warmup.WarmupError, match="record 0"):
        warmup.replay_warmup(version_dir)
    with pytest.raises(warmup.WarmupError):
        ServableVersion("tfdisent", 7, version_dir)


def test_cli_and_fresh_process_give_the_in_process_numbers(export, loaded, images, tmp_path):
    """saved_model_cli run (TF1 loader) and tf.saved_model.load in a new process, run concurrently."""
    _, version_dir = export
    z = np.random.RandomState(2).standard_normal((5, LATENT_DIM)).astype(np.float32)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "images.npy", images[0])
    script = ("import sys, numpy as np, tensorflow as tf\n"
              "m = tf.saved_model.load(sys.argv[1])\n"
              "x = np.load(sys.argv[2])\n"
              "out = m.signatures['encode_uint8'](images=tf.constant(x))\n"
              "f = m.signatures['serving_default'](images=tf.constant(x.astype(np.float32) / 255.0))\n"
              "np.savez(sys.argv[3], mean=out['mean'].numpy(), logvar=out['logvar'].numpy(),\n"
              "         fmean=f['mean'].numpy())\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    fresh = subprocess.Popen([sys.executable, "-c", script, version_dir, str(tmp_path / "images.npy"),
                              str(tmp_path / "fresh.npz")], env=env, stderr=subprocess.PIPE, text=True)
    cli = subprocess.Popen(["saved_model_cli", "run", "--dir", version_dir, "--tag_set", "serve",
                            "--signature_def", "decode", "--inputs", f"z={tmp_path / 'z.npy'}",
                            "--outdir", str(tmp_path / "cli"), "--overwrite"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    fresh_err = fresh.communicate(timeout=240)[1]
    cli_out, cli_err = cli.communicate(timeout=240)
    assert fresh.returncode == 0, fresh_err[-2000:]
    assert cli.returncode == 0, cli_err[-2000:]
    decoded = _run(loaded, "decode", z=z)
    np.testing.assert_allclose(np.load(tmp_path / "cli" / "probs.npy"), decoded["probs"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.load(tmp_path / "cli" / "logits.npy"), decoded["logits"], rtol=1e-5, atol=1e-5)
    in_process = _run(loaded, "encode_uint8", images=images[0])
    result = np.load(tmp_path / "fresh.npz")
    np.testing.assert_allclose(result["mean"], in_process["mean"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result["logvar"], in_process["logvar"], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(result["fmean"], in_process["mean"], rtol=1e-5, atol=1e-5)


# -- gRPC --------------------------------------------------------------------------------------

def test_grpc_client_end_to_end(serving, loaded, images):
    pixels, floats = images
    expected = _run(loaded, "serving_default", images=floats)
    with serving_client.GrpcClient(serving.grpc_target, "tfdisent") as grpc_client:
        start = time.perf_counter()
        from_uint8 = serving_client.encode(grpc_client, pixels, batch_size=5)  # 4 requests, last one partial
        round_trip = (time.perf_counter() - start) / 4
        from_float = serving_client.encode(grpc_client, floats)
        assert round_trip < 5.0
        np.testing.assert_allclose(from_float["mean"], expected["mean"], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(from_uint8["mean"], expected["mean"], rtol=1e-4, atol=1e-5)
        assert from_uint8["mean"].shape == (16, LATENT_DIM)

        decoded = grpc_client.predict({"z": expected["mean"][:3]}, "decode", output_filter=["probs"])
        assert list(decoded) == ["probs"] and decoded["probs"].shape == (3,) + SHAPE
        signatures = grpc_client.metadata()
        assert sorted(signatures) == list(SIGNATURES)
        assert signatures["encode_uint8"]["inputs"]["images"] == ("uint8", [-1, 64, 64, 1])

    pinned = serving_client.GrpcClient(serving.grpc_target, "tfdisent", version=1)
    assert pinned.predict({"images": floats[:2]})["mean"].shape == (2, LATENT_DIM)
    pinned.close()


def test_grpc_model_status_and_response_spec(serving, images):
    import grpc
    from tensorflow_serving.apis import (get_model_status_pb2, model_service_pb2_grpc, predict_pb2,
                                         prediction_service_pb2_grpc)

    channel = grpc.insecure_channel(serving.grpc_target)
    try:
        status = model_service_pb2_grpc.ModelServiceStub(channel).GetModelStatus(
            get_model_status_pb2.GetModelStatusRequest(model_spec={"name": "tfdisent"}), timeout=10)
        assert [(s.version, s.state) for s in status.model_version_status] == \
            [(1, get_model_status_pb2.ModelVersionStatus.AVAILABLE)]
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tfdisent"  # no signature_name: serving_default, as TF Serving does
        request.inputs["images"].CopyFrom(tf.make_tensor_proto(images[1][:2]))
        response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request, timeout=10)
        assert (response.model_spec.name, response.model_spec.version.value,
                response.model_spec.signature_name) == ("tfdisent", 1, "serving_default")
        assert sorted(response.outputs) == ["logvar", "mean"]
    finally:
        channel.close()


def _bad_grpc_requests(floats, pixels):
    from tensorflow_serving.apis import predict_pb2

    corrupt = tf.make_tensor_proto(floats[:2])
    corrupt.tensor_content = corrupt.tensor_content[:100]  # truncated payload
    cases = {
        "wrong_shape": ({"images": floats[:2, :32, :32]}, "serving_default", "INVALID_ARGUMENT",
                        "expects shape [-1,64,64,1]"),
        "wrong_rank": ({"images": floats[0]}, "serving_default", "INVALID_ARGUMENT", "expects shape"),
        "wrong_dtype": ({"images": pixels[:2]}, "serving_default", "INVALID_ARGUMENT",
                        "encode_uint8 take uint8 images"),
        "float_into_uint8": ({"images": floats[:2]}, "encode_uint8", "INVALID_ARGUMENT",
                             "expects dtype uint8 but got float32"),
        "unknown_input_name": ({"imgs": floats[:2]}, "serving_default", "INVALID_ARGUMENT",
                               "input tensor alias not found in signature: imgs. Inputs expected to be in the set "
                               "{images}"),
        "missing_input": ({}, "serving_default", "INVALID_ARGUMENT", "Missing input(s): images"),
        "empty_batch": ({"images": floats[:0]}, "serving_default", "INVALID_ARGUMENT", "empty batch"),
        "oversized_batch": ({"images": np.zeros((MAX_BATCH + 1,) + SHAPE, np.float32)}, "serving_default",
                            "INVALID_ARGUMENT", f"split the request into batches of at most {MAX_BATCH}"),
        "unknown_signature": ({"images": floats[:2]}, "encode", "INVALID_ARGUMENT",
                              'Serving signature name: "encode" not found in signature def. Available signatures: '
                              "decode, encode_uint8, reconstruct, serving_default"),
        "corrupt_tensor": ({"images": corrupt}, "serving_default", "INVALID_ARGUMENT", "tensor parsing error: images"),
    }
    requests = {}
    for name, (inputs, signature, code, message) in cases.items():
        request = predict_pb2.PredictRequest()
        request.model_spec.name = "tfdisent"
        request.model_spec.signature_name = signature
        for alias, value in inputs.items():
            request.inputs[alias].CopyFrom(value if not isinstance(value, np.ndarray) else tf.make_tensor_proto(value))
        requests[name] = (request, code, message)
    unknown_model = predict_pb2.PredictRequest()
    unknown_model.CopyFrom(requests["wrong_shape"][0])
    unknown_model.model_spec.name = "tfdisnet"
    requests["unknown_model"] = (unknown_model, "NOT_FOUND", "Servable not found for request: Latest(tfdisnet)")
    unknown_version = predict_pb2.PredictRequest()
    unknown_version.CopyFrom(requests["wrong_shape"][0])
    unknown_version.model_spec.version.value = 42
    requests["unknown_version"] = (unknown_version, "NOT_FOUND",
                                   "Servable not found for request: Specific(tfdisent, 42). Versions served: [1]")
    bad_filter = predict_pb2.PredictRequest()
    bad_filter.model_spec.name = "tfdisent"
    bad_filter.inputs["images"].CopyFrom(tf.make_tensor_proto(floats[:1]))
    bad_filter.output_filter.append("z")
    requests["unknown_output_filter"] = (bad_filter, "INVALID_ARGUMENT",
                                         "output tensor alias not found in signature: z")
    return requests


def test_grpc_bad_requests_get_actionable_errors(serving, images):
    import grpc
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    pixels, floats = images
    channel = grpc.insecure_channel(serving.grpc_target)
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    try:
        for name, (request, code, message) in _bad_grpc_requests(floats, pixels).items():
            with pytest.raises(grpc.RpcError) as caught:
                stub.Predict(request, timeout=30)
            assert caught.value.code().name == code, (name, caught.value.details())
            assert message in caught.value.details(), (name, caught.value.details())
        # The double survived every bad request.
        with serving_client.GrpcClient(serving.grpc_target) as grpc_client:
            assert grpc_client.predict({"images": floats[:1]})["mean"].shape == (1, LATENT_DIM)
            with pytest.raises(ServingError, match="NOT_FOUND"):
                serving_client.GrpcClient(serving.grpc_target, "nope").metadata()
    finally:
        channel.close()


# -- REST --------------------------------------------------------------------------------------

def _http(url, body=None, raw=None, method=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method or ("GET" if data is None else "POST"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_rest_documented_row_and_columnar_forms(serving, loaded, images):
    """The request/response shapes of TF Serving's REST API docs (api_rest), as JSON on the wire."""
    pixels, floats = images
    url = f"{serving.rest_url}/v1/models/tfdisent"
    expected = _run(loaded, "encode_uint8", images=pixels[:3])

    # Row form, one input: each instance is the bare tensor. Several outputs: a list of objects.
    status, body = _http(url + ":predict", {"signature_name": "encode_uint8", "instances": pixels[:3].tolist()})
    assert status == 200 and len(body["predictions"]) == 3
    assert sorted(body["predictions"][0]) == ["logvar", "mean"]
    np.testing.assert_allclose([p["mean"] for p in body["predictions"]], expected["mean"], rtol=1e-5, atol=1e-6)

    # Row form with named instances, default signature, versioned URL.
    status, body = _http(url + "/versions/1:predict", {"instances": [{"images": x} for x in floats[:2].tolist()]})
    assert status == 200
    np.testing.assert_allclose([p["mean"] for p in body["predictions"]],
                               _run(loaded, "serving_default", images=floats[:2])["mean"], rtol=1e-5, atol=1e-6)

    # Columnar form: {"inputs": {name: tensor}} -> {"outputs": {name: tensor}}.
    z = [[0.0] * LATENT_DIM, [1.0] + [0.0] * (LATENT_DIM - 1)]
    status, body = _http(url + ":predict", {"signature_name": "decode", "inputs": {"z": z}})
    assert status == 200 and sorted(body["outputs"]) == ["logits", "probs"]
    np.testing.assert_allclose(body["outputs"]["probs"], _run(loaded, "decode", z=np.float32(z))["probs"],
                               rtol=1e-5, atol=1e-6)
    # Columnar form with the bare tensor (allowed when the signature has one input).
    status, body = _http(url + ":predict", {"signature_name": "decode", "inputs": z})
    assert status == 200 and np.asarray(body["outputs"]["probs"]).shape == (2,) + SHAPE
    # JSON numbers (and NaN tokens) are converted to the signature dtype.
    status, body = _http(url + ":predict", raw=b'{"signature_name": "decode", "inputs": {"z": [[NaN, 0, 0, 0, 0, '
                                                b'0, 0, 0, 0, 1]]}}')
    assert status == 200

    status, body = _http(url)
    assert status == 200 and body == {"model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = _http(url + "/metadata")
    assert status == 200 and body["model_spec"]["version"] == "1"
    defs = body["metadata"]["signature_def"]["signature_def"]
    assert sorted(defs) == list(SIGNATURES)
    assert defs["serving_default"]["inputs"]["images"]["dtype"] == "DT_FLOAT"


def test_rest_client_forms_agree_with_grpc(serving, images, tmp_path):
    pixels, floats = images
    rest = serving_client.RestClient(serving.rest_url, "tfdisent")
    row = serving_client.encode(rest, floats, batch_size=7, request_format="row")
    columnar = serving_client.encode(rest, pixels, request_format="columnar")
    with serving_client.GrpcClient(serving.grpc_target) as grpc_client:
        reference = serving_client.encode(grpc_client, floats)
    np.testing.assert_allclose(row["mean"], reference["mean"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(columnar["mean"], reference["mean"], rtol=1e-4, atol=1e-5)
    assert rest.status()["model_version_status"][0]["state"] == "AVAILABLE"
    assert rest.metadata()["decode"]["outputs"]["probs"] == ("float32", [-1, 64, 64, 1])
    # The request builders produce the documented JSON.
    assert serving_client.row_request({"z": np.zeros((1, 2))}, "decode") == \
        {"signature_name": "decode", "instances": [[0.0, 0.0]]}
    assert serving_client.columnar_request({"z": np.zeros((1, 2))}, "decode") == \
        {"signature_name": "decode", "inputs": {"z": [[0.0, 0.0]]}}
    assert serving_client.row_request({"a": np.zeros((2, 1)), "b": np.ones((2,))})["instances"] == \
        [{"a": [0.0], "b": 1.0}, {"a": [0.0], "b": 1.0}]
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        serving_client.encode(rest, floats * 255.0)
    with pytest.raises(ServingError, match="cannot reach"):
        serving_client.RestClient("http://127.0.0.1:9", timeout=5).status()


REST_BAD_REQUESTS = {
    "wrong_shape": ("/v1/models/tfdisent:predict", {"instances": np.zeros((2, 32, 32, 1)).tolist()}, 400,
                    "expects shape [-1,64,64,1]"),
    "ragged": ("/v1/models/tfdisent:predict", {"instances": [[[[0.0]]], [[[0.0], [1.0]]]]}, 400, "ragged"),
    "non_integer_pixels": ("/v1/models/tfdisent:predict",
                           {"signature_name": "encode_uint8", "instances": np.full((1,) + SHAPE, 0.5).tolist()}, 400,
                           "non-integer"),
    "pixel_out_of_range": ("/v1/models/tfdisent:predict",
                           {"signature_name": "encode_uint8", "instances": np.full((1,) + SHAPE, 300).tolist()}, 400,
                           "outside the uint8 range"),
    "strings": ("/v1/models/tfdisent:predict", {"inputs": {"images": [["a"]]}}, 400, "expected numbers"),
    "unknown_input_name": ("/v1/models/tfdisent:predict", {"inputs": {"imgs": np.zeros((1,) + SHAPE).tolist()}}, 400,
                           "input tensor alias not found in signature: imgs"),
    "missing_input": ("/v1/models/tfdisent:predict", {"signature_name": "decode", "inputs": {}}, 400,
                      "Missing input(s): z"),
    "empty_instances": ("/v1/models/tfdisent:predict", {"instances": []}, 400, "empty list"),
    "empty_columnar": ("/v1/models/tfdisent:predict", {"inputs": {"images": []}}, 400, "empty batch"),
    "oversized_batch": ("/v1/models/tfdisent:predict",
                        {"signature_name": "decode", "inputs": np.zeros((MAX_BATCH + 1, LATENT_DIM)).tolist()}, 400,
                        f"maximum batch size {MAX_BATCH}"),
    "both_forms": ("/v1/models/tfdisent:predict", {"instances": [], "inputs": {}}, 400,
                   "expecting only one of 'inputs' or 'instances'"),
    "neither_form": ("/v1/models/tfdisent:predict", {"signature_name": "decode"}, 400,
                     "Missing 'inputs' or 'instances' key"),
    "unknown_signature": ("/v1/models/tfdisent:predict", {"signature_name": "encode", "instances": [[0.0]]}, 400,
                          'Serving signature name: "encode" not found'),
    "unknown_model": ("/v1/models/tfdisnet:predict", {"instances": [[0.0]]}, 404,
                      "Servable not found for request: Latest(tfdisnet)"),
    "unknown_version": ("/v1/models/tfdisent/versions/3:predict", {"instances": [[0.0]]}, 404,
                        "Specific(tfdisent, 3)"),
    "unknown_label": ("/v1/models/tfdisent/labels/stable:predict", {"instances": [[0.0]]}, 404,
                      "Unrecognized servable version label: stable"),
    "malformed_json": ("/v1/models/tfdisent:predict", b'{"instances": [', 400, "JSON Parse error"),
    "malformed_path": ("/v1/model/tfdisent:predict", {"instances": [[0.0]]}, 400, "Malformed request"),
    "classify": ("/v1/models/tfdisent:classify", {"examples": []}, 400, "Malformed request"),
}


@pytest.mark.parametrize("case", sorted(REST_BAD_REQUESTS))
def test_rest_bad_requests_get_actionable_errors(serving, case):
    path, body, http_status, message = REST_BAD_REQUESTS[case]
    raw = body if isinstance(body, bytes) else None
    status, answer = _http(serving.rest_url + path, None if raw else body, raw=raw)
    assert status == http_status, answer
    assert set(answer) == {"error"} and message in answer["error"], answer
    # ... and the server still answers.
    status, _ = _http(f"{serving.rest_url}/v1/models/tfdisent:predict", {"signature_name": "decode",
                                                                        "inputs": [[0.0] * LATENT_DIM]})
    assert status == 200


def test_models_config_template_serves_encoders_side_by_side(export, tmp_path):
    """serving/models.config parses as a ModelServerConfig and its models load side by side."""
    from google.protobuf import text_format
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(REPO, "serving", "models.config")) as f:
        template = f.read()
    runs = tmp_path / "runs"
    config_text = template.replace("/models/runs", str(runs))
    config = model_server_config_pb2.ModelServerConfig()
    text_format.Parse(config_text, config)
    for model in config.model_config_list.config:
        versions = list(model.model_version_policy.specific.versions) or [1]
        assert model.model_platform == "tensorflow" and model.base_path.startswith(str(runs))
        shutil.copytree(export[1], os.path.join(model.base_path, str(versions[0])))
    path = tmp_path / "models.config"
    path.write_text(config_text)
    server = ModelServer()
    loaded = server.add_models_from_config(str(path))
    assert loaded == {"beta_vae": [1], "beta_tcvae": [1], "factor_vae": [300000]}
    assert server.resolve("factor_vae", label="stable").version == 300000
    with LocalServing(server) as serving:
        codes = {}
        for name in loaded:
            rest = serving_client.RestClient(serving.rest_url, name)
            codes[name] = serving_client.encode(rest, np.zeros((2,) + SHAPE, np.uint8))["mean"]
        np.testing.assert_allclose(codes["beta_vae"], codes["factor_vae"], rtol=1e-6)


# -- the command line client ---------------------------------------------------------------------

def _run_cli(args, timeout=240):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env, cwd=REPO)


def test_encode_cli_grpc_dataset_to_csv_and_rest_files_to_npy(serving, loaded, tmp_path):
    from PIL import Image

    from tfdisent.data import load_dataset

    # gRPC, a dataset sample -> CSV with factor columns (subprocess: the installed console script).
    csv_path = tmp_path / "codes.csv"
    grpc_run = subprocess.Popen(["tfdisent-encode", "--protocol=grpc", f"--server={serving.grpc_target}",
                                 "--dataset=dummy", "--num_images=12", "--seed=3", "--batch_size=5",
                                 f"--output={csv_path}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=REPO, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2"))
    # REST, PNG files + a float .npy -> .npy, through serving/client.py (runs while the gRPC one imports TF).
    pixels = np.random.RandomState(4).randint(0, 256, size=(3,) + SHAPE).astype(np.uint8)
    for i, image in enumerate(pixels):
        Image.fromarray(image[..., 0]).save(tmp_path / f"img{i}.png")
    np.save(tmp_path / "more.npy", pixels[:2].astype(np.float32) / 255.0)
    npy_path = tmp_path / "codes.npy"
    rest_run = _run_cli([sys.executable, "serving/client.py", f"--server={serving.rest_url}",
                         f"--inputs={tmp_path}/img*.png,{tmp_path}/more.npy", "--rest_format=columnar",
                         f"--output={npy_path}"])
    assert rest_run.returncode == 0, rest_run.stderr[-2000:]
    codes = np.load(npy_path)
    expected = _run(loaded, "serving_default", images=np.concatenate([pixels, pixels[:2]]).astype(np.float32) / 255.0)
    np.testing.assert_allclose(codes, expected["mean"], rtol=1e-4, atol=1e-5)

    out, err = grpc_run.communicate(timeout=240)
    assert grpc_run.returncode == 0, err[-2000:]
    assert "encoded 12 images via grpc" in out
    factors, images = load_dataset("dummy").sample(12, np.random.RandomState(3))
    with open(csv_path) as f:
        header = f.readline().strip().split(",")
        rows = [line.strip().split(",") for line in f]
    assert header == ["source"] + [f"z{i}" for i in range(LATENT_DIM)] + [f"factor_{i}" for i in range(10)]
    assert len(rows) == 12 and rows[0][0] == "dummy[0]"
    np.testing.assert_allclose(np.float32([r[1:1 + LATENT_DIM] for r in rows]),
                               _run(loaded, "serving_default", images=images)["mean"], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.int64([r[1 + LATENT_DIM:] for r in rows]), factors)


def test_encode_cli_errors_are_one_line(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((1,) + SHAPE, np.uint8))
    unreachable = _run_cli(["tfdisent-encode", "--server=127.0.0.1:9", f"--inputs={tmp_path}/x.npy",
                            f"--output={tmp_path}/y.npy", "--timeout=5"])
    assert unreachable.returncode == 1
    assert unreachable.stderr.strip().count("\n") == 0 and "cannot reach" in unreachable.stderr
    no_output = _run_cli(["tfdisent-encode", f"--inputs={tmp_path}/x.npy"])
    assert no_output.returncode == 2 and "--output is required" in no_output.stderr
    missing = _run_cli(["tfdisent-encode", f"--inputs={tmp_path}/nothing*.png", f"--output={tmp_path}/y.csv"])
    assert missing.returncode == 2 and "no file matches" in missing.stderr
