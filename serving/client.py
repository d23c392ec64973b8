#!/usr/bin/env python
"""Encode images with a served tfdisent model: a thin wrapper over ``tfdisent.export.client``.

Same flags as ``tfdisent-encode`` (``--help``), e.g.::

    python serving/client.py --server=localhost:8501 --inputs='imgs/*.png' --output=codes.csv
    python serving/client.py --protocol=grpc --server=localhost:8500 --inputs=batch.npy --output=codes.npy

From Python::

    from tfdisent.export import client
    rest = client.RestClient("http://localhost:8501", model_name="tfdisent")
    codes = client.encode(rest, images_uint8)["mean"]          # [N, d]
"""

from tfdisent.bin.encode import run

if __name__ == "__main__":
    run()
